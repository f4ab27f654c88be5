"""Hunting: a user's SQL over the telemetry they may read, and nothing else.

The query runs in a fresh in-memory DuckDB connection against one view, ``events``: the
Parquet files of the organisations :func:`~steppe.sharing.policy.can_read_telemetry`
allows, handed to DuckDB as an Arrow dataset (columns of the current lake schema, older
files read with nulls for newer columns, plus the partition's ``day``). Then the
connection is shut: no file system access at all (``enable_external_access=false``), no
Python-variable scans, configuration locked. So ``read_parquet('…another org…')``,
``COPY``, ``ATTACH``, ``INSTALL``/``LOAD`` fail with a permission error.

Why an Arrow dataset rather than ``read_parquet`` with ``allowed_directories``: a
connection allowed to read the actor's folders may also *write* there (``COPY … TO``
into an allowed directory works), so a hunt could plant events in the lake. Arrow
reads the files; DuckDB never touches the file system.

    >>> # hunt(actor, 'SELECT "source.ip", count(*) FROM events GROUP BY 1', lake_root)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from steppe.errors import InputError
from steppe.lake.partitions import list_organisations, list_partitions, parquet_files
from steppe.lake.table import lake_schema
from steppe.sharing.model import Actor
from steppe.sharing.policy import can_read_telemetry, require_reader
from steppe.storage import timestamps

__all__ = ["HuntResult", "hunt", "hunt_schema", "readable_organisations"]

_DAY = pa.field("day", pa.date32())


@dataclass(frozen=True, slots=True)
class HuntResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows existed than the limit
    limit: int
    organisations: list[int] = field(default_factory=list)  # whose telemetry was in scope

    @property
    def note(self) -> str | None:
        if self.truncated:
            return f"showing the first {self.limit} rows; narrow the query or raise --limit"
        return None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready form: rows as objects, timestamps as ISO 8601."""
        return {
            "columns": self.columns,
            "rows": [
                {name: _jsonable(value) for name, value in zip(self.columns, row, strict=True)}
                for row in self.rows
            ],
            "truncated": self.truncated,
            "limit": self.limit,
            "organisations": self.organisations,
        }


def hunt_schema() -> pa.Schema:
    """The columns of ``events``: the lake schema plus the partition's ``day``."""
    return lake_schema().append(_DAY)


def readable_organisations(actor: Actor, lake_root: Path) -> list[int]:
    """Organisations with telemetry in the lake that ``actor`` may read."""
    return [org for org in list_organisations(lake_root) if can_read_telemetry(actor, org)]


def hunt(
    actor: Actor,
    sql: str,
    lake_root: Path,
    *,
    limit: int = 10_000,
    timeout_seconds: float = 300.0,
    memory_limit: str = "1GB",
    threads: int = 2,
) -> HuntResult:
    """Run ``sql`` (which reads the view ``events``) as ``actor``; at most ``limit`` rows.

    Raises :class:`~steppe.errors.Forbidden` for sensor accounts and
    :class:`~steppe.errors.InputError` (DuckDB's message) for SQL that fails, including
    any attempt to reach files, databases or extensions.
    """
    require_reader(actor)
    if limit <= 0:
        raise InputError("limit must be positive", field="limit")
    if not sql.strip():
        raise InputError("empty query", field="sql")
    organisations = readable_organisations(actor, lake_root)
    for attempt in range(2):
        files = [
            path
            for partition in list_partitions(lake_root, organisations)
            for path in parquet_files(partition)
        ]
        try:
            columns, rows = _run(
                _source(files, lake_root),
                sql,
                limit,
                timeout_seconds,
                memory_limit=memory_limit,
                threads=threads,
            )
        except (InputError, OSError) as exc:
            # A compaction or a prune removed a file after the listing: list again.
            if attempt == 0 and not all(path.exists() for path in files):
                continue
            if isinstance(exc, OSError):
                raise InputError(
                    f"the lake changed during the hunt ({exc}); run it again", field="sql"
                ) from exc
            raise
        truncated = len(rows) > limit
        return HuntResult(columns, rows[:limit], truncated, limit, organisations)
    raise AssertionError("unreachable")


def _source(files: list[Path], lake_root: Path) -> ds.Dataset | pa.Table:
    """The allowed files as one Arrow dataset (or an empty table with the columns)."""
    schema = hunt_schema()
    if not files:
        return schema.empty_table()
    return ds.dataset(
        [str(path) for path in files],
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([_DAY]), flavor="hive"),
        partition_base_dir=str(lake_root),
    )


def _run(
    source: ds.Dataset | pa.Table,
    sql: str,
    limit: int,
    timeout_seconds: float,
    *,
    memory_limit: str,
    threads: int,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = duckdb.connect(":memory:")
    timer = threading.Timer(timeout_seconds, conn.interrupt)
    try:
        conn.execute(f"SET memory_limit = '{memory_limit}'")
        conn.execute(f"SET threads = {int(threads)}")
        conn.execute("SET TimeZone = 'UTC'")  # timestamps come back in UTC, not local time
        conn.register("_lake_events", source)
        conn.execute("CREATE VIEW events AS SELECT * FROM _lake_events")
        # Shut the connection before any user SQL runs: no files, no extensions, no
        # scans of Python variables, and no way to set any of it back.
        conn.execute("SET python_enable_replacements = false")
        conn.execute("SET autoinstall_known_extensions = false")
        conn.execute("SET autoload_known_extensions = false")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
        timer.start()
        try:
            cursor = conn.execute(sql)
            if cursor.description is None:
                return [], []
            columns = [d[0] for d in cursor.description]
            return columns, [tuple(row) for row in cursor.fetchmany(limit + 1)]
        except duckdb.InterruptException as exc:
            raise InputError(
                f"the hunt took longer than {timeout_seconds:g} s and was stopped", field="sql"
            ) from exc
        except duckdb.PermissionException as exc:
            raise InputError(
                f"a hunt may only read the events view: {_first_lines(exc)}", field="sql"
            ) from exc
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise InputError(_first_lines(exc), field="sql") from exc
    finally:
        timer.cancel()
        conn.close()


def _first_lines(exc: BaseException) -> str:
    """DuckDB's message without the echo of the query (``LINE 1: …`` and its caret)."""
    lines: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) if lines else type(exc).__name__


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return timestamps.format_ts(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
