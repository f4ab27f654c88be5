"""Alert figures for the situation dashboard, counted only over what the reader may read.

Every figure starts from the alerts of the organisations whose telemetry the reader may
read (:func:`steppe.alerts.queries.readable_organisations`, decided per organisation
by :func:`steppe.sharing.policy.can_read_telemetry`); the top indicators are named only
where the reader may see the indicator (:func:`steppe.sharing.policy.visible_filter`) —
the others are counted together as "indicators you may not see", so the totals add up
without naming anything.

    >>> situation(conn, actor, days=14).per_day[-1]                 # doctest: +SKIP
    DayCount(day='2026-11-28', by_severity={'low': 0, 'medium': 3, 'high': 1, 'critical': 0})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, func, select

from steppe.alerts.model import SEVERITIES
from steppe.alerts.queries import readable_organisations, visible_indicator_pks
from steppe.sharing.model import Actor
from steppe.sharing.policy import require_reader
from steppe.storage import timestamps
from steppe.storage.schema import alerts, organisations

__all__ = ["DayCount", "MemberCount", "Situation", "TopItem", "situation"]


@dataclass(frozen=True, slots=True)
class DayCount:
    day: str  # YYYY-MM-DD (UTC)
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


@dataclass(frozen=True, slots=True)
class MemberCount:
    org_id: int
    name: str
    country: str | None
    alerts: int


@dataclass(frozen=True, slots=True)
class TopItem:
    label: str  # an indicator value, a rule title, or what stands for the hidden ones
    ref: str | None  # indicator stix id or rule id (None: not shown to this reader)
    alerts: int


@dataclass(frozen=True, slots=True)
class Situation:
    since: str
    per_day: list[DayCount]
    by_member: list[MemberCount]
    top_indicators: list[TopItem]
    top_rules: list[TopItem]
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


def situation(
    conn: Connection, actor: Actor, *, days: int = 14, now: str | None = None, top: int = 8
) -> Situation:
    """Alerts over the last ``days`` days (by the day they were first seen)."""
    require_reader(actor)
    end = timestamps.parse(now or timestamps.now())
    first_day = (end - timedelta(days=days - 1)).date()
    since = f"{first_day.isoformat()}T00:00:00.000000Z"
    readable = readable_organisations(conn, actor)
    scope = (alerts.c.org_id.in_(readable), alerts.c.first_seen >= since)

    day = func.substr(alerts.c.first_seen, 1, 10)
    counts: dict[str, dict[str, int]] = {
        (first_day + timedelta(days=i)).isoformat(): dict.fromkeys(SEVERITIES, 0)
        for i in range(days)
    }
    totals = dict.fromkeys(SEVERITIES, 0)
    for row in conn.execute(
        select(day.label("day"), alerts.c.severity, func.count().label("n"))
        .where(*scope)
        .group_by(day, alerts.c.severity)
    ):
        if row.day in counts and row.severity in totals:
            counts[row.day][row.severity] += row.n
            totals[row.severity] += row.n

    members = [
        MemberCount(r.id, r.name, r.country, r.n)
        for r in conn.execute(
            select(
                organisations.c.id,
                organisations.c.name,
                organisations.c.country,
                func.count(alerts.c.id).label("n"),
            )
            .select_from(organisations.join(alerts, alerts.c.org_id == organisations.c.id))
            .where(*scope)
            .group_by(organisations.c.id, organisations.c.name, organisations.c.country)
            .order_by(func.count(alerts.c.id).desc(), organisations.c.name)
        )
    ]
    return Situation(
        since=since,
        per_day=[DayCount(d, c) for d, c in counts.items()],
        by_member=members,
        top_indicators=_top_indicators(conn, actor, scope, top),
        top_rules=_top_rules(conn, scope, top),
        by_severity=totals,
    )


def _top_indicators(conn: Connection, actor: Actor, scope: tuple, top: int) -> list[TopItem]:  # type: ignore[type-arg]
    rows = conn.execute(
        select(
            alerts.c.indicator_pk,
            alerts.c.indicator_stix_id,
            func.max(alerts.c.matched).label("matched"),
            func.count().label("n"),
        )
        .where(*scope, alerts.c.indicator_pk.is_not(None))
        .group_by(alerts.c.indicator_pk, alerts.c.indicator_stix_id)
        .order_by(func.count().desc(), alerts.c.indicator_stix_id)
    ).all()
    named = visible_indicator_pks(conn, actor, {r.indicator_pk for r in rows})
    shown: list[TopItem] = []
    hidden = 0
    for row in rows:
        if row.indicator_pk in named:
            if len(shown) < top:
                shown.append(
                    TopItem(row.matched or row.indicator_stix_id, row.indicator_stix_id, row.n)
                )
        else:
            hidden += row.n
    if hidden:
        shown.append(TopItem("indicators you may not see", None, hidden))
    return shown


def _top_rules(conn: Connection, scope: tuple, top: int) -> list[TopItem]:  # type: ignore[type-arg]
    rows = conn.execute(
        select(alerts.c.rule_id, func.max(alerts.c.title).label("title"), func.count().label("n"))
        .where(*scope, alerts.c.rule_id.is_not(None))
        .group_by(alerts.c.rule_id)
        .order_by(func.count().desc(), alerts.c.rule_id)
        .limit(top)
    ).all()
    return [TopItem(r.title, r.rule_id, r.n) for r in rows]
