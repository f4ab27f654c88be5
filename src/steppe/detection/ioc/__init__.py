"""IOC detection: the index of active indicators, with per-organisation visibility.

- :mod:`~steppe.detection.ioc.audience` — who may see an indicator, as a bitmask
  (checked against :func:`steppe.sharing.policy.can_see`).
- :mod:`~steppe.detection.ioc.index` — canonical value → audience; CIDR trie; updates.
- :mod:`~steppe.detection.ioc.loading` — build/refresh the index from the intel store.
- :mod:`~steppe.detection.ioc.matcher` — events → hits, for the sending organisation.
- :mod:`~steppe.detection.ioc.columnar` — the same hits from Arrow tables (the lake),
  screened column by column.
- :mod:`~steppe.detection.ioc.jsonevents` — the same hits from JSON bytes (the broker's
  batches, JSON lines), only the events that may hit parsed in full.
- :mod:`~steppe.detection.ioc.screen` — the JSON matcher's screen in C, over the
  events' bytes (when the extension was built).
"""

from steppe.detection.ioc.audience import Coalition, audience_mask, load_coalition
from steppe.detection.ioc.columnar import ColumnarMatcher, read_json_lines
from steppe.detection.ioc.index import Hit, IndicatorRef, IocIndex
from steppe.detection.ioc.jsonevents import JsonEventMatcher
from steppe.detection.ioc.loading import build_index, refresh
from steppe.detection.ioc.matcher import EventHit, IocMatcher

__all__ = [
    "Coalition",
    "ColumnarMatcher",
    "EventHit",
    "Hit",
    "IndicatorRef",
    "IocIndex",
    "IocMatcher",
    "JsonEventMatcher",
    "audience_mask",
    "build_index",
    "load_coalition",
    "read_json_lines",
    "refresh",
]
