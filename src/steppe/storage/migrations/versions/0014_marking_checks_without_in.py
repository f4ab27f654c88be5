"""intel_objects' marking checks as chains of equalities, not IN lists

SQLite checks ``distribution IN ('organisation', 'groups', 'community', 'federation')``
and the five-value ``tlp IN (…)`` through an ephemeral index probed for every row
written: 0.15 of the 0.40 s of CPU that ipsum's 120,430 indicator rows took to insert.
The same constraints written as ``a = 'x' OR a = 'y' …`` are plain comparisons (~0.01 s)
and accept and refuse the same rows.

SQLite cannot alter a constraint, and copying ``intel_objects`` (which many tables
reference) would need foreign keys off, which a migration inside a transaction cannot
do; the check's text in the schema table is replaced instead, the procedure SQLite
documents for changing constraints (https://sqlite.org/lang_altertable.html, "Making
Other Kinds Of Table Schema Changes"): every stored row satisfies the new check, being
the same test. PostgreSQL, where ``IN`` costs nothing more, gets the same text so that
both databases carry what ``steppe.storage.schema`` says.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (constraint, as 0001 wrote it, as it is now).
_CHECKS = (
    (
        "ck_intel_objects_distribution",
        "distribution IN ('organisation', 'groups', 'community', 'federation')",
        "distribution = 'organisation' OR distribution = 'groups'"
        " OR distribution = 'community' OR distribution = 'federation'",
    ),
    (
        "ck_intel_objects_tlp",
        "tlp IN ('clear', 'green', 'amber', 'amber+strict', 'red')",
        "tlp = 'clear' OR tlp = 'green' OR tlp = 'amber' OR tlp = 'amber+strict' OR tlp = 'red'",
    ),
)


def upgrade() -> None:
    _replace([(name, old, new) for name, old, new in _CHECKS])


def downgrade() -> None:
    _replace([(name, new, old) for name, old, new in _CHECKS])


def _replace(checks: Sequence[tuple[str, str, str]]) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        for name, _old, new in checks:
            op.drop_constraint(op.f(name), "intel_objects", type_="check")
            op.create_check_constraint(op.f(name), "intel_objects", new)
        return
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'intel_objects'"
    ).scalar_one()
    for name, old, new in checks:
        written = f"CONSTRAINT {name} CHECK ({old})"
        if written not in sql:
            raise RuntimeError(f"intel_objects: {name} is not {old!r} (changed by hand?)")
        sql = sql.replace(written, f"CONSTRAINT {name} CHECK ({new})")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'intel_objects'",
            (sql,),
        )
        # Other connections see the new version and read the schema again.
        conn.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema=OFF")
