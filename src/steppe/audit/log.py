"""The append-only, hash-chained audit log.

Each entry's hash is an HMAC (keyed with the instance's secret key) over its content and
the previous entry's hash. Changing, inserting or deleting a row breaks the chain at that
row, and without the key nobody can forge a chain that verifies again. A one-row head
table holds the last sequence number and hash: appenders lock it (so concurrent writers
never fork the chain), and a truncated tail no longer matches it.

    >>> append(conn, key, actor="ana", action="intel.import", obj="bundle feed.json")  # doctest: +SKIP
    >>> verify(conn, key).ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from steppe.errors import IntegrityError
from steppe.storage import timestamps
from steppe.storage.schema import audit_head, audit_log

__all__ = ["AuditEntry", "VerifyReport", "append", "verify"]

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    object: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None


def _digest(
    key: bytes, seq: int, at: str, actor: str, action: str, obj: str, detail: str, prev_hash: str
) -> str:
    payload = orjson.dumps([seq, at, actor, action, obj, detail, prev_hash])
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def append(
    conn: Connection,
    key: str,
    *,
    actor: str,
    action: str,
    obj: str,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry inside the caller's transaction: it lands if and only if the action does."""
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        raise IntegrityError("audit head is missing; run `steppe init` to migrate")
    seq = head.seq + 1
    at = timestamps.now()
    detail_text = orjson.dumps(dict(detail or {}), option=orjson.OPT_SORT_KEYS).decode()
    digest = _digest(key.encode(), seq, at, actor, action, obj, detail_text, head.hash)
    conn.execute(
        insert(audit_log).values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            object=obj,
            detail=detail_text,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return AuditEntry(seq, at, actor, action, obj, detail_text, head.hash, digest)


def verify(conn: Connection, key: str) -> VerifyReport:
    """Walk the whole chain; report the first entry that does not hold."""
    key_bytes = key.encode()
    prev = GENESIS
    expected_seq = 1
    count = 0
    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).yield_per(5000)
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return VerifyReport(
                False, count, expected_seq, f"entry {expected_seq} is missing (next is {row.seq})"
            )
        if row.prev_hash != prev:
            return VerifyReport(
                False, count, row.seq, f"entry {row.seq} does not link to entry {row.seq - 1}"
            )
        digest = _digest(
            key_bytes, row.seq, row.at, row.actor, row.action, row.object, row.detail, row.prev_hash
        )
        if not hmac.compare_digest(digest, row.hash):
            return VerifyReport(
                False, count, row.seq, f"entry {row.seq} ({row.action} by {row.actor}) was changed"
            )
        prev = row.hash
        expected_seq += 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one_or_none()
    if head is None:
        return VerifyReport(False, count, None, "audit head is missing")
    if head.seq != count or head.hash != prev:
        return VerifyReport(
            False,
            count,
            count + 1,
            f"the log ends at entry {count} but its head says {head.seq}: entries were removed",
        )
    return VerifyReport(True, count, None, None)


def recent(conn: Connection, limit: int = 50) -> list[AuditEntry]:
    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit))
    return [
        AuditEntry(r.seq, r.at, r.actor, r.action, r.object, r.detail, r.prev_hash, r.hash)
        for r in rows
    ]
