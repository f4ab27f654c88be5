"""What every command needs: settings, the database engine, the audit trail, the console."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import orjson
from rich.console import Console
from sqlalchemy import Connection, Engine

from steppe.audit.trail import AuditTrail
from steppe.errors import ConfigError
from steppe.settings import Settings
from steppe.storage import migrate
from steppe.storage.engine import make_engine, writing

__all__ = ["DEMO_MARKER", "Runtime", "write_json"]

#: A data dir made by `steppe demo` holds this file; its commands then run as the demo.
DEMO_MARKER = "DEMO"


def write_json(document: object, *, indent: bool = False) -> None:
    """``document`` as JSON on standard output: one line (for JSON-lines listings), or
    indented (one object shown whole)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    sys.stdout.buffer.write(orjson.dumps(document, option=option) + b"\n")


@dataclass
class Runtime:
    settings: Settings
    out: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))

    @property
    def is_demo(self) -> bool:
        return self.settings.demo or (self.settings.data_dir / DEMO_MARKER).exists()

    def secret_key(self) -> str:
        if self.is_demo and not self.settings.demo:
            return self.settings.model_copy(update={"demo": True}).require_secret_key()
        return self.settings.require_secret_key()

    @cached_property
    def engine(self) -> Engine:
        if self.settings.database_url is None:
            Path(self.settings.data_dir).mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.resolved_database_url())

    def operator_trail(self) -> AuditTrail:
        """Actions typed at the shell are the local operator's."""
        return AuditTrail(key=self.secret_key(), actor=f"local:{getpass.getuser()}")

    def check_schema(self) -> None:
        current = migrate.current_revision(self.engine)
        head = migrate.head_revision()
        if current != head:
            raise ConfigError(
                f"the database at {self.settings.resolved_database_url()} is at schema "
                f"{current or 'none'}, not {head}: run `steppe init` first"
            )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything in it lands, or nothing does."""
        self.check_schema()
        with writing(self.engine) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        self.check_schema()
        with self.engine.connect() as conn:
            yield conn
