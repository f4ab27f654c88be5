"""The playbook runner: poll triggers into runs, then attempt the actions that are due.

:meth:`PlaybookRunner.run_once` does one round (``steppe playbook run-once``);
:meth:`PlaybookRunner.start` repeats it in a background thread (``steppe serve`` with
STEPPE_PLAYBOOK_DIR). Several runners may share a database: a run is recorded once per
(playbook, item), and an action is claimed by one runner at a time with a lease, so a
runner killed mid-attempt leaves the action to be tried again when the lease ends —
webhooks, e-mails and broker messages are delivered at least once (receivers dedupe on
``X-Steppe-Delivery``); database actions commit with their outcome, exactly once.

    >>> runner = PlaybookRunner(engine, key, PlaybookLibrary(Path("playbooks")), settings)  # doctest: +SKIP
    >>> runner.run_once().runs                                                     # doctest: +SKIP
    3
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, or_, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import SteppeError
from steppe.response.playbooks.actions import (
    Action,
    ActionContext,
    is_permanent,
    next_delay,
)
from steppe.response.playbooks.loader import PlaybookLibrary
from steppe.response.playbooks.model import Playbook, TriggerKind
from steppe.response.playbooks.registry import ACTIONS, action_from_dict
from steppe.response.playbooks.runs import principal, record_run, refresh_run_status
from steppe.response.playbooks.spec import Spec
from steppe.response.playbooks.triggers import SOURCES, Cursor
from steppe.settings import Settings
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import playbook_actions, playbook_cursors, playbook_runs
from steppe.workers.broker import Broker
from steppe.workers.periodic import PeriodicWorker

__all__ = ["PlaybookRunner", "RoundReport"]

log = logging.getLogger(__name__)

#: How long a claimed attempt may take before another runner may take the action over.
LEASE = timedelta(minutes=5)
_ERROR_CHARS = 2000
#: Attempts per round at most; the rest are taken by the next round.
_MAX_ATTEMPTS_PER_ROUND = 5000

#: Called with (phase, done, total): "triggers" per playbook, "actions" per attempt.
Progress = Callable[[str, int, int], None]


@dataclass
class RoundReport:
    """What one round did."""

    playbooks: int = 0
    examined: int = 0  # trigger items looked at
    runs: int = 0  # new runs
    attempts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # ok / retrying / failed / dead
    problems: dict[str, str] = field(default_factory=dict)  # playbook → why it did not poll


class PlaybookRunner:
    def __init__(
        self,
        engine: Engine,
        secret_key: str,
        library: PlaybookLibrary,
        settings: Settings,
        *,
        broker: Broker | None = None,
        settle_seconds: float | None = None,
        batch: int = 500,
    ) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self.library = library
        self.settings = settings
        self.broker = broker
        self.settle = timedelta(
            seconds=settings.playbook_settle_seconds if settle_seconds is None else settle_seconds
        )
        self.batch = batch
        self._lock = threading.Lock()  # one round at a time in this process
        self._worker = PeriodicWorker(
            "playbooks",
            self.run_once,
            every=lambda: self.settings.playbook_poll_seconds,
            first_at_once=True,
        )

    # --- the loop --------------------------------------------------------------------

    def start(self) -> None:
        """Run rounds in the background; a failed round is logged, the runs keep their
        state and the next round tries again."""
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop(timeout=None)

    # --- one round -------------------------------------------------------------------

    def run_once(self, now: str | None = None, progress: Progress | None = None) -> RoundReport:
        """Poll every enabled playbook's trigger, then attempt every due action."""
        with self._lock:
            moment = now or timestamps.now()
            self.library.refresh()
            report = RoundReport()
            playbooks = [p for p in self.library.playbooks() if p.enabled]
            for done, playbook in enumerate(playbooks, 1):
                try:
                    self._poll(playbook, moment, report)
                except SteppeError as exc:
                    report.problems[playbook.name] = str(exc)
                    log.error("playbook %s: %s", playbook.name, exc)
                report.playbooks += 1
                if progress is not None:
                    progress("triggers", done, len(playbooks))
            self._work(moment, report, progress)
            return report

    def _poll(self, playbook: Playbook, now: str, report: RoundReport) -> None:
        source = SOURCES.get(playbook.trigger.kind)
        if source is None:
            raise SteppeError(f"trigger {playbook.trigger.kind} is not available here")
        until = timestamps.format_ts(timestamps.parse(now) - self.settle)
        trail = AuditTrail(key=self.secret_key, actor=f"playbook:{playbook.name}")
        while True:
            with writing(self.engine) as conn:
                actor = principal(conn, playbook.owner, trail)
                cursor = self._cursor(conn, playbook, now)
                items, moved = source.fetch(conn, actor, cursor, until=until, limit=self.batch)
                for item in items:
                    report.examined += 1
                    matches = playbook.trigger.matches(item.facts)
                    if matches and record_run(conn, trail, playbook, actor.org_id, item, now):
                        report.runs += 1
                if moved != cursor:
                    self._save_cursor(conn, playbook, moved, now)
            if len(items) < self.batch:
                return

    def _cursor(self, conn: Connection, playbook: Playbook, now: str) -> Cursor:
        c = playbook_cursors.c
        row = conn.execute(
            select(c.trigger, c.after_ts, c.after_key).where(c.playbook == playbook.name)
        ).one_or_none()
        if row is not None and row.trigger == playbook.trigger.kind.value:
            return Cursor(row.after_ts, row.after_key or "")
        # A new playbook (or one whose trigger changed) starts now, minus its backfill:
        # enabling it does not replay history unless asked to.
        start = timestamps.format_ts(timestamps.parse(now) - playbook.trigger.backfill)
        cursor = Cursor(start, "")
        self._save_cursor(conn, playbook, cursor, now, fresh=row is None)
        return cursor

    def _save_cursor(
        self, conn: Connection, playbook: Playbook, cursor: Cursor, now: str, fresh: bool = False
    ) -> None:
        values = {
            "trigger": playbook.trigger.kind.value,
            "after_ts": cursor.after_ts,
            "after_key": cursor.after_key,
            "updated_at": now,
        }
        if fresh:
            conn.execute(playbook_cursors.insert().values(playbook=playbook.name, **values))
        else:
            conn.execute(
                update(playbook_cursors)
                .where(playbook_cursors.c.playbook == playbook.name)
                .values(**values)
            )

    # --- actions ---------------------------------------------------------------------

    def _work(self, now: str, report: RoundReport, progress: Progress | None) -> None:
        a = playbook_actions.c
        due = or_(
            and_(
                a.status.in_(("pending", "retrying")),
                or_(a.next_attempt_at.is_(None), a.next_attempt_at <= now),
            ),
            and_(a.status == "running", a.next_attempt_at <= now),  # an abandoned lease
        )
        if self.broker is None:  # left for a runner that has one (steppe serve)
            waiting = [t for t, cls in ACTIONS.items() if cls.needs_broker]
            due = and_(due, a.type.not_in(waiting))
        with self.engine.connect() as conn:
            todo = conn.execute(
                select(a.run_id, a.position)
                .where(due)
                .order_by(a.run_id, a.position)
                .limit(_MAX_ATTEMPTS_PER_ROUND)
            ).all()
        for done, (run_id, position) in enumerate(todo, 1):
            outcome = self.attempt(run_id, position, now)
            if outcome is not None:
                report.attempts += 1
                report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
            if progress is not None:
                progress("actions", done, len(todo))

    def attempt(self, run_id: int, position: int, now: str | None = None) -> str | None:
        """Claim and attempt one action; its new status, or None if another runner has it."""
        moment = now or timestamps.now()
        claimed = self._claim(run_id, position, moment)
        if claimed is None:
            return None
        run, spec, attempts, max_attempts = claimed
        trigger = TriggerKind(run["trigger"])
        try:
            action = action_from_dict(Spec.plain(spec, field=f"actions[{position}]"), trigger)
        except SteppeError as exc:
            return self._record_failure(run_id, position, moment, exc, attempts, max_attempts, 0)
        trail = AuditTrail(key=self.secret_key, actor=f"playbook:{run['playbook']}")
        try:
            if action.writes:
                with writing(self.engine) as conn:
                    ctx = self._context(conn, run, position, action, trail)
                    ctx.conn = conn
                    result = action.run(ctx)
                    return self._record_ok(conn, run_id, position, moment, result, trail, run)
            with self.engine.connect() as conn:
                ctx = self._context(conn, run, position, action, trail)
            result = action.run(ctx)
        except Exception as exc:  # every failure is recorded on the action, not raised
            if not (is_permanent(exc) or isinstance(exc, SteppeError | OSError)):
                log.exception("playbook %s action %d failed", run["playbook"], position)
            return self._record_failure(
                run_id, position, moment, exc, attempts, max_attempts, action.backoff
            )
        with writing(self.engine) as conn:
            return self._record_ok(conn, run_id, position, moment, result, trail, run)

    def _context(
        self,
        conn: Connection,
        run: dict[str, Any],
        position: int,
        action: Action,
        trail: AuditTrail,
    ) -> ActionContext:
        actor = principal(conn, run["item"].get("owner") or "")
        a = playbook_actions.c
        earlier = [
            orjson.loads(r)
            for r in conn.scalars(
                select(a.result)
                .where(a.run_id == run["id"], a.position < position, a.status == "ok")
                .order_by(a.position)
            )
            if r
        ]
        return ActionContext(
            engine=self.engine,
            trail=trail,
            actor=actor,
            playbook=run["playbook"],
            run_id=run["id"],
            position=position,
            trigger=TriggerKind(run["trigger"]),
            item=run["item"],
            settings=self.settings,
            broker=self.broker,
            earlier=earlier,
        )

    def _claim(
        self, run_id: int, position: int, now: str
    ) -> tuple[dict[str, Any], dict[str, Any], int, int] | None:
        a = playbook_actions.c
        lease_end = timestamps.format_ts(timestamps.parse(now) + LEASE)
        with writing(self.engine) as conn:
            claimed = conn.execute(
                update(playbook_actions)
                .where(
                    a.run_id == run_id,
                    a.position == position,
                    or_(
                        and_(
                            a.status.in_(("pending", "retrying")),
                            or_(a.next_attempt_at.is_(None), a.next_attempt_at <= now),
                        ),
                        and_(a.status == "running", a.next_attempt_at <= now),
                    ),
                )
                .values(
                    status="running",
                    attempts=a.attempts + 1,
                    next_attempt_at=lease_end,
                    updated_at=now,
                )
            )
            if claimed.rowcount != 1:
                return None
            row = conn.execute(
                select(a.spec, a.attempts, a.max_attempts).where(
                    a.run_id == run_id, a.position == position
                )
            ).one()
            run_row = conn.execute(select(playbook_runs).where(playbook_runs.c.id == run_id)).one()
            refresh_run_status(conn, run_id, now)
        run = {
            "id": run_row.id,
            "playbook": run_row.playbook,
            "trigger": run_row.trigger,
            "item": orjson.loads(run_row.item),
        }
        return run, orjson.loads(row.spec), row.attempts, row.max_attempts

    def _record_ok(
        self,
        conn: Connection,
        run_id: int,
        position: int,
        now: str,
        result: Any,
        trail: AuditTrail,
        run: dict[str, Any],
    ) -> str:
        a = playbook_actions.c
        conn.execute(
            update(playbook_actions)
            .where(a.run_id == run_id, a.position == position)
            .values(
                status="ok",
                next_attempt_at=None,
                last_error=None,
                result=orjson.dumps(dict(result), default=str).decode(),
                updated_at=now,
            )
        )
        refresh_run_status(conn, run_id, now)
        trail.record(
            conn, "playbook.action", f"run {run_id} of {run['playbook']}",
            {"position": position, "status": "ok"},
        )  # fmt: skip
        return "ok"

    def _record_failure(
        self,
        run_id: int,
        position: int,
        now: str,
        exc: BaseException,
        attempts: int,
        max_attempts: int,
        backoff: float,
    ) -> str:
        error = (str(exc) or type(exc).__name__)[:_ERROR_CHARS]
        if is_permanent(exc):
            status, due = "failed", None
        elif attempts >= max_attempts:
            status, due = "dead", None
        else:
            status = "retrying"
            due = timestamps.format_ts(timestamps.parse(now) + next_delay(backoff, attempts))
        a = playbook_actions.c
        with writing(self.engine) as conn:
            conn.execute(
                update(playbook_actions)
                .where(a.run_id == run_id, a.position == position)
                .values(status=status, next_attempt_at=due, last_error=error, updated_at=now)
            )
            refresh_run_status(conn, run_id, now)
            if status != "retrying":
                playbook = conn.scalar(
                    select(playbook_runs.c.playbook).where(playbook_runs.c.id == run_id)
                )
                AuditTrail(key=self.secret_key, actor=f"playbook:{playbook}").record(
                    conn, "playbook.action", f"run {run_id} of {playbook}",
                    {"position": position, "status": status, "error": error[:200]},
                )  # fmt: skip
        log.warning("playbook run %d action %d: %s (%s)", run_id, position, error, status)
        return status
