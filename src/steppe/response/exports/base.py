"""What every export format implements, and the registry that names them.

An exporter turns a stream of changes — ``("add", entry)`` for a full export, adds and
``("remove", entry)`` for an incremental one — into chunks of bytes. It never sees the
database: :mod:`.selection` decides what an actor may have, the exporter only how a
device wants it written. Formats that cannot say "remove" (``removals = False``) are
always given a full export.

Built-in formats register through :func:`register_exporter`, the same call a plugin
makes from a module named in the ``steppe.exporters`` entry point group:

    >>> class Plain:                                               # doctest: +SKIP
    ...     name, media_type, suffix, removals = "plain", "text/plain", ".txt", False
    ...     reads_times = False  # optional: True (the default) reads created/modified
    ...     def __init__(self, context): ...
    ...     def render(self, changes): yield b"..."
    >>> register_exporter(Plain)                                   # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import ClassVar, Literal, Protocol

from steppe.errors import InputError
from steppe.response.exports.selection import ExportEntry

__all__ = [
    "Action",
    "Change",
    "ExportContext",
    "Exporter",
    "lines_to_chunks",
    "register_exporter",
    "registered_exporters",
]

Action = Literal["add", "remove"]
Change = tuple[Action, ExportEntry]

_FORMAT_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
_REGISTRY: dict[str, type[Exporter]] = {}


@dataclass(frozen=True, slots=True)
class ExportContext:
    """Facts an exporter writes into its output (headers, serials, SIDs)."""

    generated_at: str  # stored timestamp of the snapshot
    cursor: str  # the cursor to pass back for the next incremental export
    incremental: bool  # True: changes since a cursor; False: everything, replacing
    requester: str  # organisation name the export is for
    sid_base: int = 1_000_000_000  # Suricata/Snort SIDs start here
    name: str = "steppe"  # nft table, RPZ zone prefix, dataset file prefix


class Exporter(Protocol):
    """One export format."""

    name: ClassVar[str]  # as in the URL and on the command line
    media_type: ClassVar[str]
    suffix: ClassVar[str]  # file name suffix, with the dot
    removals: ClassVar[bool]  # may be given ("remove", entry) changes
    # Optional, so not declared here: ``reads_times: ClassVar[bool]``, True when absent —
    # whether the entries' ``created`` and ``modified`` are used. False lets the export
    # leave them out of its query (they are None then): a narrower sort.

    def __init__(self, context: ExportContext) -> None: ...

    def render(self, changes: Iterable[Change]) -> Iterator[bytes]:
        """The output, in chunks."""
        ...


def register_exporter(exporter: type[Exporter]) -> type[Exporter]:
    """Make ``exporter`` available by its ``name`` (usable as a class decorator)."""
    name = getattr(exporter, "name", None)
    if not isinstance(name, str) or not _FORMAT_NAME.fullmatch(name):
        raise ValueError(f"exporter {exporter!r} needs a lower-case name")
    if name in _REGISTRY and _REGISTRY[name] is not exporter:
        raise ValueError(f"an export format {name!r} is already registered")
    _REGISTRY[name] = exporter
    return exporter


def registered_exporters() -> dict[str, type[Exporter]]:
    """Format name → exporter class, built-ins and plugins."""
    return dict(sorted(_REGISTRY.items()))


def exporter_for(name: str) -> type[Exporter]:
    found = _REGISTRY.get(name)
    if found is None:
        raise InputError(
            f"no export format {name[:50]!r}; choose from {', '.join(sorted(_REGISTRY))}",
            field="format",
        )
    return found


def lines_to_chunks(lines: Iterable[str], per_chunk: int = 2_000) -> Iterator[bytes]:
    """Join lines (each with its newline) into chunks of bytes: one write per chunk
    instead of per line keeps a million-line export in seconds."""
    it = iter(lines)
    while batch := list(islice(it, per_chunk)):
        yield "".join(batch).encode()
