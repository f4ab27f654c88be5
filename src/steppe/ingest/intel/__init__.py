"""Readers and writers of intelligence formats: lists and CSV feeds, free text, MISP.

They turn a source into canonical values (:class:`FeedEntry`) or STIX 2.1 objects for
:func:`steppe.intel.importer.import_objects`; bad rows come back as
:class:`RowProblem` (file, line, field, message) and never stop the rest.
"""

from steppe.ingest.intel.entries import FeedEntry, RowProblem, refang
from steppe.ingest.intel.lists import PRESETS, ListMapping, mapping_from, preset_for_file, read_list
from steppe.ingest.intel.misp_export import to_misp_event
from steppe.ingest.intel.misp_import import (
    MispImport,
    narrowest,
    read_misp_event,
    read_misp_events,
    read_misp_feed,
    read_misp_manifest,
)
from steppe.ingest.intel.text import extract_html, extract_text

__all__ = [
    "PRESETS",
    "FeedEntry",
    "ListMapping",
    "MispImport",
    "RowProblem",
    "extract_html",
    "extract_text",
    "mapping_from",
    "narrowest",
    "preset_for_file",
    "read_list",
    "read_misp_event",
    "read_misp_events",
    "read_misp_feed",
    "read_misp_manifest",
    "refang",
    "to_misp_event",
]
