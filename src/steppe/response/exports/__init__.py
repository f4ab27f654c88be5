"""Exports for enforcement devices: what a member may see, active, not on a warninglist,
under a TLP ceiling — as Suricata rules and datasets, Snort rules, a Zeek Intel file, a
DNS RPZ zone, nftables sets, CSV or a STIX 2.1 bundle; streamed in a stable order, and
incremental since a cursor for the formats that can say "remove" (docs/exports.md).

    >>> plan = plan_export(actor, "rpz", ExportOptions())           # doctest: +SKIP
    >>> data = b"".join(stream_export(conn, actor, plan))           # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import entry_points

# The built-in formats register themselves on import, as a plugin module does.
from steppe.response.exports import datasets, documents, ids, network
from steppe.response.exports.base import (
    Change,
    ExportContext,
    Exporter,
    register_exporter,
    registered_exporters,
)
from steppe.response.exports.incremental import decode_cursor
from steppe.response.exports.selection import (
    EXPORTABLE_TYPES,
    ExportEntry,
    ExportOptions,
    iter_entries,
)
from steppe.response.exports.service import ExportPlan, ExportStats, plan_export, stream_export

__all__ = [
    "EXPORTABLE_TYPES",
    "Change",
    "ExportContext",
    "ExportEntry",
    "ExportOptions",
    "ExportPlan",
    "ExportStats",
    "Exporter",
    "decode_cursor",
    "iter_entries",
    "load_plugins",
    "plan_export",
    "register_exporter",
    "registered_exporters",
    "stream_export",
]

_BUILT_IN = (datasets, documents, ids, network)


def load_plugins() -> list[str]:
    """Import the modules of the ``steppe.exporters`` entry point group (each registers
    its formats with :func:`register_exporter`); returns their names."""
    loaded = []
    for point in entry_points(group="steppe.exporters"):
        point.load()
        loaded.append(point.name)
    return loaded
