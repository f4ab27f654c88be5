"""Who is acting, for the audit log: passed to every write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from steppe.audit.log import AuditEntry, append

__all__ = ["AuditTrail"]


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """The acting party and the key that signs the chain.

    >>> trail = AuditTrail(key="…", actor="local:root")
    >>> trail.record(conn, "org.add", "organisation CERT-KZ")  # doctest: +SKIP
    """

    key: str
    actor: str

    def record(
        self, conn: Connection, action: str, obj: str, detail: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        return append(conn, self.key, actor=self.actor, action=action, obj=obj, detail=detail)
