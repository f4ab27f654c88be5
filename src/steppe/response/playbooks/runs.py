"""Runs of playbooks and the attempts of their actions, stored and read through the policy.

A run is one (playbook, trigger item); its unique key makes a replayed trigger — a
restart, two runners at once — run nothing twice. Each action of a run has a row with
its status:

``pending``   not tried yet
``running``   an attempt holds it (a lease: a runner killed mid-attempt gives it back)
``ok``        done; ``result`` says what came of it
``retrying``  an attempt failed; the next is due at ``next_attempt_at``
``failed``    failed in a way a retry cannot fix (a 4xx answer, an unknown group)
``dead``      every allowed attempt failed

The run's status is rolled up from its actions. Who sees runs is decided by
:func:`steppe.sharing.policy.can_see_playbook`; the trigger item and the results are
shown only to the playbook's own organisation (a member's run may be about intel the
center may not see).

    >>> page = list_runs(conn, actor, status="dead")                 # doctest: +SKIP
    >>> retry_run(conn, trail, actor, page.items[0].id)              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Insert, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.response.playbooks.model import Item, Playbook
from steppe.sharing import directory
from steppe.sharing.model import Actor, OrgKind, Role
from steppe.sharing.policy import can_see_playbook, require_reader
from steppe.storage import timestamps
from steppe.storage.schema import (
    group_members,
    organisations,
    playbook_actions,
    playbook_runs,
    users,
)

__all__ = [
    "STATUSES",
    "ActionView",
    "RunPage",
    "RunView",
    "get_run",
    "list_runs",
    "principal",
    "readable_owners",
    "record_run",
    "refresh_run_status",
    "retry_run",
    "roll_up",
    "service_user_name",
]

STATUSES = ("pending", "running", "ok", "failed", "retrying", "dead")
#: Roles that may retry a run of their organisation (readers only look).
_RETRY_ROLES = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})
MAX_LIMIT = 1000


def service_user_name(organisation: str) -> str:
    """The account an organisation's playbooks act as: ``playbooks@<organisation>``."""
    return f"playbooks@{organisation}"


def principal(conn: Connection, owner: str, trail: AuditTrail | None = None) -> Actor:
    """The actor an organisation's playbooks act as, with its groups as of now.

    A real user of the organisation (``playbooks@<organisation>``, without tokens: it
    cannot log in), so what playbooks do is recorded under a name, on the timeline and in
    the audit log. Created on first use when ``trail`` is given. It acts as one of the
    organisation's analysts; for the coordinator organisation, as the center's staff.
    """
    org = directory.find_organisation(conn, owner)
    if org.kind is OrgKind.PEER:
        raise InputError(f"{owner} is a peer center: playbooks run for this center's members")
    roles = frozenset({Role.COORDINATOR} if org.kind is OrgKind.COORDINATOR else {Role.ANALYST})
    name = service_user_name(org.name)
    row = conn.execute(
        select(users.c.id, users.c.organisation_id).where(users.c.name == name)
    ).one_or_none()
    if row is not None and row.organisation_id != org.id:
        raise InputError(f"the user {name!r} belongs to another organisation; rename it")
    if row is None and trail is not None:
        user_id = directory.add_user(conn, trail, name, org, roles).id
    else:
        user_id = 0 if row is None else row.id
    groups = conn.scalars(select(group_members.c.group_id).where(group_members.c.org_id == org.id))
    # The roles are the playbook's, not whatever the stored account was given since.
    return Actor(user_id, name, org.id, org.kind, roles, frozenset(groups))


def _insert_ignoring_duplicates(conn: Connection) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(playbook_runs).on_conflict_do_nothing(
            index_elements=["playbook", "item_key"]
        )
    return sqlite.insert(playbook_runs).on_conflict_do_nothing(
        index_elements=["playbook", "item_key"]
    )


def record_run(
    conn: Connection,
    trail: AuditTrail,
    playbook: Playbook,
    owner_org_id: int,
    item: Item,
    now: str,
) -> int | None:
    """Store a run and its pending actions; None when this item already has a run."""
    stored = {
        "key": item.key,
        "source": item.alert_ids[0] if item.alert_ids else item.key,
        "owner": playbook.owner,
        "at": now,
        "context": item.context,
        "facts": item.facts,
        "group_key": item.group_key,
        "alert_ids": list(item.alert_ids),
        "indicator_ids": list(item.indicator_ids),
    }
    run_id = conn.execute(
        _insert_ignoring_duplicates(conn)
        .values(
            playbook=playbook.name,
            owner_org_id=owner_org_id,
            trigger=playbook.trigger.kind.value,
            item_key=item.key,
            item=orjson.dumps(stored, default=str).decode(),
            status="pending",
            created_at=now,
            updated_at=now,
        )
        .returning(playbook_runs.c.id)
    ).scalar()
    if run_id is None:
        return None
    conn.execute(
        playbook_actions.insert(),
        [
            {
                "run_id": run_id,
                "position": position,
                "type": action.type,
                "spec": orjson.dumps(action.spec.to_plain(), default=str).decode(),
                "status": "pending",
                "attempts": 0,
                "max_attempts": action.retries,
                "next_attempt_at": None,
                "last_error": None,
                "result": None,
                "updated_at": now,
            }
            for position, action in enumerate(playbook.actions)
        ],
    )
    trail.record(conn, "playbook.run", f"run {run_id} of {playbook.name}", {"item": item.key})
    return int(run_id)


def roll_up(statuses: Sequence[str]) -> str:
    """A run's status from its actions' (the most pressing one wins).

    >>> roll_up(["ok", "retrying", "dead"]), roll_up(["ok", "failed"]), roll_up(["ok"])
    ('retrying', 'failed', 'ok')
    """
    for status in ("running", "retrying", "pending", "dead", "failed"):
        if status in statuses:
            return status
    return "ok"


def refresh_run_status(conn: Connection, run_id: int, now: str) -> str:
    statuses = conn.scalars(
        select(playbook_actions.c.status).where(playbook_actions.c.run_id == run_id)
    ).all()
    status = roll_up(statuses)
    conn.execute(
        update(playbook_runs)
        .where(playbook_runs.c.id == run_id)
        .values(status=status, updated_at=now)
    )
    return status


@dataclass(frozen=True, slots=True)
class ActionView:
    position: int
    type: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: str | None
    last_error: str | None
    result: dict[str, Any] | None
    updated_at: str


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    playbook: str
    organisation: str
    trigger: str
    item_key: str
    status: str
    created_at: str
    updated_at: str
    item: dict[str, Any] | None = None  # only for the playbook's own organisation
    actions: list[ActionView] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        out["actions"] = [{n: getattr(a, n) for n in ActionView.__slots__} for a in self.actions]
        return out


@dataclass(frozen=True, slots=True)
class RunPage:
    items: list[RunView]
    total: int


def readable_owners(conn: Connection, actor: Actor) -> list[int]:
    """Organisations whose playbooks and runs ``actor`` may see (per the policy)."""
    ids = conn.scalars(select(organisations.c.id).order_by(organisations.c.id))
    return [o for o in ids if can_see_playbook(actor, o)]


def list_runs(
    conn: Connection,
    actor: Actor,
    *,
    playbook: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> RunPage:
    """Runs ``actor`` may see, newest first, with their actions."""
    require_reader(actor)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    if offset < 0:
        raise InputError(f"must not be negative, got {offset}", field="offset")
    if status is not None and status not in STATUSES:
        raise InputError(f"must be one of {', '.join(STATUSES)}", field="status")
    r = playbook_runs
    query = (
        select(r, organisations.c.name.label("organisation"))
        .join(organisations, organisations.c.id == r.c.owner_org_id)
        .where(r.c.owner_org_id.in_(readable_owners(conn, actor)))
    )
    if playbook is not None:
        query = query.where(r.c.playbook == playbook)
    if status is not None:
        query = query.where(r.c.status == status)
    total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = conn.execute(query.order_by(r.c.id.desc()).limit(limit).offset(offset)).all()
    actions = _actions(conn, [row.id for row in rows])
    return RunPage([_view(actor, row, actions.get(row.id, [])) for row in rows], total)


def get_run(conn: Connection, actor: Actor, run_id: int) -> RunView:
    """One run; NotFound when absent or not visible (the same answer)."""
    require_reader(actor)
    row = conn.execute(
        select(playbook_runs, organisations.c.name.label("organisation"))
        .join(organisations, organisations.c.id == playbook_runs.c.owner_org_id)
        .where(playbook_runs.c.id == run_id)
    ).one_or_none()
    if row is None or not can_see_playbook(actor, row.owner_org_id):
        raise NotFound(f"no playbook run {run_id}")
    return _view(actor, row, _actions(conn, [run_id]).get(run_id, []))


def retry_run(conn: Connection, trail: AuditTrail, actor: Actor, run_id: int) -> RunView:
    """Try a run's failed and dead actions again, now, with a fresh set of attempts."""
    run = get_run(conn, actor, run_id)
    if not actor.roles & _RETRY_ROLES:
        raise Forbidden("retrying a run needs the analyst, org-admin or coordinator role")
    now = timestamps.now()
    a = playbook_actions
    stuck = conn.execute(
        select(a.c.position, a.c.attempts, a.c.spec).where(
            a.c.run_id == run_id, a.c.status.in_(("failed", "dead"))
        )
    ).all()
    if not stuck:
        raise Conflict(f"run {run_id} has no failed or dead action to retry (it is {run.status})")
    for row in stuck:
        retries = int(orjson.loads(row.spec).get("retries") or 5)
        conn.execute(
            update(a)
            .where(a.c.run_id == run_id, a.c.position == row.position)
            .values(
                status="pending",
                max_attempts=row.attempts + retries,
                next_attempt_at=None,
                updated_at=now,
            )
        )
    refresh_run_status(conn, run_id, now)
    trail.record(
        conn, "playbook.retry", f"run {run_id} of {run.playbook}",
        {"actions": [r.position for r in stuck]},
    )  # fmt: skip
    return get_run(conn, actor, run_id)


def _actions(conn: Connection, run_ids: list[int]) -> dict[int, list[ActionView]]:
    found: dict[int, list[ActionView]] = {}
    if not run_ids:
        return found
    a = playbook_actions
    rows = conn.execute(
        select(a).where(a.c.run_id.in_(run_ids)).order_by(a.c.run_id, a.c.position)
    ).all()
    for row in rows:
        found.setdefault(row.run_id, []).append(
            ActionView(
                position=row.position,
                type=row.type,
                status=row.status,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                next_attempt_at=row.next_attempt_at,
                last_error=row.last_error,
                result=None if row.result is None else orjson.loads(row.result),
                updated_at=row.updated_at,
            )
        )
    return found


def _view(actor: Actor, row: Any, actions: list[ActionView]) -> RunView:
    own = row.owner_org_id == actor.org_id
    if not own:  # what came of an action can name what the viewer may not see
        actions = [
            ActionView(
                a.position,
                a.type,
                a.status,
                a.attempts,
                a.max_attempts,
                a.next_attempt_at,
                a.last_error,
                None,
                a.updated_at,
            )
            for a in actions
        ]
    return RunView(
        id=row.id,
        playbook=row.playbook,
        organisation=row.organisation,
        trigger=row.trigger,
        item_key=row.item_key,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        item=orjson.loads(row.item).get("context") if own else None,
        actions=actions,
    )
