"""Match events held as Arrow columns (the lake's Parquet, JSON lines read by Arrow).

:class:`IocMatcher` spends ~2 µs of Python on every event, hit or not. Here the work
that turns away the ~99% of events that hit nothing runs per COLUMN in Arrow's C++
kernels (which release the GIL, so the columns are screened on several threads):

- IP fields: canonical dotted quads become integers; exact IPv4 indicators and CIDRs
  (their network at a few prefix lengths) are integer set look-ups (``pc.is_in``);
- name fields (and the host of ``url.full``): the last *d* labels, for every label
  count *d* of an indexed domain or URL host, looked up in the set of those names —
  parent-domain matching, column-wise;
- hashes and e-mail addresses: lower-cased, looked up in their sets.

Anything the screen cannot judge exactly as the row matcher would (IPv6, non-ASCII,
a trailing dot, an address in a name field, a URL without ``scheme://``, an IPv4
written oddly, a percent-escape in a URL host) is kept. The screen is conservative:
it may keep an event that hits nothing, never drop one that hits. The kept rows become
dicts and go through :meth:`IocMatcher.match_event` — the one exact, policy-checked
match (audience bit of the organisation, ``valid_until``) — so the hits are those of
:meth:`IocMatcher.match_events` on the same events, in the same order. The value sets
hold only values the organisation may see, rebuilt when the index changes
(:attr:`IocIndex.generation`).

    >>> matcher = ColumnarMatcher(index)                              # doctest: +SKIP
    >>> table = read_json_lines(path)                                 # doctest: +SKIP
    >>> for event, hits in matcher.match_table(table, org_id=2, now=now):  # doctest: +SKIP
    ...     print(event["destination.ip"], [h.hit.value for h in hits])
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from steppe.detection.ioc.index import IocIndex, url_host
from steppe.detection.ioc.matcher import (
    DOMAIN_FIELDS,
    EMAIL_FIELDS,
    HASH_FIELDS,
    IP_FIELDS,
    MATCHED_FIELDS,
    URL_FIELDS,
    EventHit,
    IocMatcher,
)

__all__ = ["MATCHED_FIELDS", "ColumnarMatcher", "json_lines_schema", "read_json_lines"]

#: Every field the matcher reads.

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# The only IPv4 spelling turned into a number; any other (leading zeros, spaces, …)
# is left to the exact matcher, which hands the text to the CIDR trie as it is.
_CANONICAL_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
# Numbers a cast reads but a canonical address never has: leading zeros, signs.
_ODD_IPV4 = r"(?:^|\.)0[0-9]|[+\-]"
# Names the row matcher may read as an address or must canonicalise in full.
_ODD_NAME = r"[.\]0-9]$|:"
# The host (port dropped) of a URL the way urlsplit + rpartition("@") find it.
_URL_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#]*@)?(?P<host>[^/?#]*?)(?::[0-9]*)?(?:[/?#]|$)"
_ODD_HOST = r"^$|^\[|[%:]|[.\]0-9]$"
# Blanks and controls around a URL are stripped by the canonical form (str.strip's
# idea of a blank), inside it they are refused: let the row matcher see them.
_NOT_PLAIN = r"[^!-~]"
# A CIDR of length L is looked up by its network at length L - L % 4: a few integer
# look-ups whatever the lengths indexed (a superset: the exact matcher decides).
_CIDR_STEP = 4
_STRINGS = (pa.string(), pa.large_string(), pa.string_view())


@dataclass(frozen=True)
class _Visible:
    """One organisation's view of the index, as Arrow value sets."""

    generation: int
    ip4: pa.Array  # exact IPv4 indicators, as _packed uint32
    cidr4: tuple[tuple[int, pa.Array], ...]  # (key length, _packed network keys)
    v6: bool  # any IPv6 value or network: IPv6 event values must be looked at
    ips: bool  # any exact IP value: an address in a name field may hit
    names: pa.Array  # domains and URL hosts
    depths: tuple[int, ...]  # label counts of those names
    hashes: pa.Array
    emails: pa.Array


def _ip4_number(text: str) -> int:
    a, b, c, d = text.split(".")
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _visible(index: IocIndex, org_id: int) -> _Visible:
    def seen(table: str) -> list[str]:
        return [v for v, mask in index.tables[table].items() if (mask >> org_id) & 1]

    ip4: list[int] = []
    v6 = exact_v6 = False
    for value in seen("ip"):
        if ":" in value:
            v6 = exact_v6 = True
        else:
            ip4.append(_packed(_ip4_number(value)))
    keys: dict[int, set[int]] = {}
    for prefix, mask in index.cidr_audiences():
        if not (mask >> org_id) & 1:
            continue
        if ":" in prefix:
            v6 = True
            continue
        network, length = prefix.split("/")
        key_length = int(length) - int(length) % _CIDR_STEP
        key = _packed(_ip4_number(network)) & _prefix_mask(key_length)
        keys.setdefault(key_length, set()).add(key)
    names = set(seen("domain"))
    names.update(url_host(url) for url in seen("url"))
    return _Visible(
        generation=index.generation,
        ip4=pa.array(ip4, pa.uint32()),
        cidr4=tuple((k, pa.array(sorted(v), pa.uint32())) for k, v in sorted(keys.items())),
        v6=v6,
        ips=bool(ip4) or exact_v6,
        names=pa.array(sorted(names), pa.string()),
        depths=tuple(sorted({name.count(".") + 1 for name in names})),
        hashes=pa.array(seen("hash"), pa.string()),
        emails=pa.array(seen("email"), pa.string()),
    )


def _any(masks: list[pa.Array]) -> pa.Array | None:
    """Rows where any of ``masks`` (boolean, one per row) is true; null counts as false."""
    if not masks:
        return None
    found = masks[0]
    for mask in masks[1:]:
        found = pc.or_kleene(found, mask)
    return pc.fill_null(found, False)


def _present(column: pa.Array) -> pa.Array:
    """Rows the row matcher reads at all: a non-empty string."""
    return pc.fill_null(pc.greater(pc.binary_length(column), 0), False)


def _ipv4_numbers(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each row's IPv4 address as a :func:`_packed` uint32, and whether the row spells it
    canonically (other rows are for the row matcher; their number means nothing).

    Lake addresses are canonical dotted quads, so the fast way splits the column, casts
    the parts to bytes and reads each row's four bytes as one uint32 — no per-octet
    arithmetic. A column with a part that is not a byte (a word, 300, a sign) takes
    the slow way: a regex picks the canonical rows, the others are read as 0.0.0.0.
    """
    parts = pc.split_pattern(column, ".")
    quads = pc.list_slice(parts, 0, 4, return_fixed_size_list=True)
    try:
        octets = pc.cast(quads.values, pa.uint8())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        canonical = pc.fill_null(pc.match_substring_regex(column, _CANONICAL_IPV4), False)
        address, _ = _ipv4_numbers(pc.if_else(canonical, column, pa.scalar("0.0.0.0")))
        return address, canonical
    if octets.offset:
        octets = pa.concat_arrays([octets])  # from_buffers below reads from byte 0
    address = pa.Array.from_buffers(pa.uint32(), len(column), [None, octets.buffers()[1]])
    canonical = pc.and_(
        pc.equal(pc.list_value_length(parts), 4),
        pc.invert(pc.match_substring_regex(column, _ODD_IPV4)),
    )
    return address, pc.fill_null(canonical, False)


def _packed(address: int) -> int:
    """An IPv4 address (an int, network order) as :func:`_ipv4_numbers` reads its four
    bytes: in memory order, as this machine reads a uint32."""
    return int.from_bytes(address.to_bytes(4, "big"), sys.byteorder)


def _prefix_mask(length: int) -> int:
    """The :func:`_packed` bit mask of the first ``length`` bits of an address."""
    return _packed(((1 << length) - 1) << (32 - length))


def _ip_mask(column: pa.Array | pa.ChunkedArray, view: _Visible) -> pa.Array | None:
    masks = []
    if view.v6:
        masks.append(pc.match_substring(column, ":"))
    if len(view.ip4) or view.cidr4:
        if isinstance(column, pa.ChunkedArray):
            numbers = [_ipv4_numbers(chunk) for chunk in column.chunks]
            address = pa.chunked_array([a for a, _ in numbers], pa.uint32())
            canonical = pa.chunked_array([c for _, c in numbers], pa.bool_())
        else:
            address, canonical = _ipv4_numbers(column)
        masks.append(pc.and_(pc.invert(canonical), pc.is_valid(column)))
        known = []
        if len(view.ip4):
            known.append(pc.is_in(address, value_set=view.ip4))
        for key_length, networks in view.cidr4:
            keys = pc.bit_wise_and(address, pa.scalar(_prefix_mask(key_length), pa.uint32()))
            known.append(pc.is_in(keys, value_set=networks))
        found = _any(known)
        if found is not None:
            masks.append(pc.and_(canonical, found))
    return _any(masks)


def _suffix(names: pa.Array, depth: int) -> pa.Array:
    """The last ``depth`` labels of each name (the whole name if it has fewer)."""
    parts = pc.split_pattern(names, ".", max_splits=depth, reverse=True)
    joined = pc.binary_join(pc.list_slice(parts, 1, depth + 1), ".")
    return pc.if_else(pc.equal(pc.list_value_length(parts), depth + 1), joined, names)


def _name_mask(column: pa.Array, view: _Visible) -> pa.Array | None:
    if not len(view.names) and not view.ips:
        return None
    # Odd names may be addresses (the row matcher looks those up as IPs) or need the
    # full canonical form.
    masks = [pc.invert(pc.string_is_ascii(column)), pc.match_substring_regex(column, _ODD_NAME)]
    if len(view.names):
        lower = pc.ascii_lower(column)
        # The row matcher walks every parent of a name; only the depths some indexed
        # name has can be in the set, so only those suffixes are looked up.
        masks.extend(pc.is_in(_suffix(lower, d), value_set=view.names) for d in view.depths)
    return _any(masks)


def _url_mask(column: pa.Array, view: _Visible) -> pa.Array | None:
    if not len(view.names) and not view.ips:
        return None
    host = pc.struct_field(pc.extract_regex(column, _URL_HOST), "host")
    unread = pc.and_(pc.is_null(host), _present(column))  # no scheme://: let rows decide
    odd_host = pc.fill_null(pc.match_substring_regex(host, _ODD_HOST), False)
    by_host = _name_mask(pc.if_else(odd_host, pa.scalar("["), host), view)
    masks = [unread, odd_host, pc.match_substring_regex(column, _NOT_PLAIN)]
    if by_host is not None:
        masks.append(by_host)
    return pc.and_(_any(masks), _present(column))


def _email_mask(column: pa.Array, view: _Visible) -> pa.Array | None:
    if not len(view.emails):
        return None
    # str.strip() drops more than ASCII blanks: anything but printable ASCII is kept.
    odd = pc.match_substring_regex(column, _NOT_PLAIN)
    found = pc.is_in(pc.ascii_lower(column), value_set=view.emails)
    return _any([odd, found])


def _hash_mask(column: pa.Array, view: _Visible) -> pa.Array | None:
    if not len(view.hashes):
        return None
    return _any(
        [
            pc.invert(pc.string_is_ascii(column)),
            pc.is_in(pc.ascii_lower(column), value_set=view.hashes),
        ]
    )


_SCREENS: dict[str, Callable[[pa.Array, _Visible], pa.Array | None]] = {
    **dict.fromkeys(IP_FIELDS, _ip_mask),
    **dict.fromkeys(DOMAIN_FIELDS, _name_mask),
    **dict.fromkeys(URL_FIELDS, _url_mask),
    **dict.fromkeys(HASH_FIELDS, _hash_mask),
    **dict.fromkeys(EMAIL_FIELDS, _email_mask),
}


def _string_column(
    data: pa.Table | pa.RecordBatch, field: str
) -> pa.Array | pa.ChunkedArray | None:
    """``field`` as strings, or None if no row can hold a string there.

    A table's columns stay chunked: the kernels run chunk by chunk and ``pc.is_in``
    still hashes its value set once per call, where joining the chunks would copy.
    """
    if field not in data.schema.names:
        return None
    column: Any = data.column(field)
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if kind not in _STRINGS:
        return None  # ints, timestamps, lists: the row matcher reads strings only
    if column.type != pa.string():
        column = column.cast(pa.string())
    return column


class ColumnarMatcher:
    """Tables or record batches of events → ``(event, hits)``, as :class:`IocMatcher` gives.

    ``threads`` columns are screened at once (default: the machine's cores).
    """

    def __init__(self, index: IocIndex, *, threads: int | None = None) -> None:
        self.index = index
        self.matcher = IocMatcher(index)
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._views: dict[int, _Visible] = {}
        self._lock = threading.Lock()

    def view(self, org_id: int) -> _Visible:
        """``org_id``'s value sets, rebuilt if the index changed since they were made."""
        with self._lock:
            view = self._views.get(org_id)
            if view is None or view.generation != self.index.generation:
                view = self._views[org_id] = _visible(self.index, org_id)
            return view

    def candidates(self, data: pa.Table | pa.RecordBatch, org_id: int) -> pa.Array:
        """Indices of the rows that might hit an indicator ``org_id`` may see (int64)."""
        view = self.view(org_id)
        work = []
        for field in MATCHED_FIELDS:
            column = _string_column(data, field)
            if column is not None and column.null_count < len(column):
                work.append((_SCREENS[field], column))
        if not work:
            return pa.array([], pa.int64())
        if self.threads == 1 or len(work) == 1:
            masks = [screen(column, view) for screen, column in work]
        else:
            with ThreadPoolExecutor(min(self.threads, len(work))) as pool:
                masks = list(pool.map(lambda job: job[0](job[1], view), work))
        found = _any([m for m in masks if m is not None])
        if found is None:
            return pa.array([], pa.int64())
        return pc.indices_nonzero(found)

    def match_table(
        self, data: pa.Table | pa.RecordBatch, org_id: int, now: str
    ) -> list[tuple[dict[str, Any], list[EventHit]]]:
        """``(event, hits)`` for each row of ``data`` that hits, in row order; each
        event as ``to_pylist`` gives it (the evidence an alert keeps)."""
        rows = self.candidates(data, org_id)
        if not len(rows):
            return []
        return self.match_rows(data.take(rows).to_pylist(), org_id, now)

    def match_rows(
        self, events: Iterable[dict[str, Any]], org_id: int, now: str
    ) -> list[tuple[dict[str, Any], list[EventHit]]]:
        """The exact match of candidate rows (from :meth:`candidates`), as dicts."""
        match = self.matcher.match_event
        found = []
        for event in events:
            hits = match(event, org_id, now)
            if hits:
                found.append((event, hits))
        return found


def json_lines_schema(extra: pa.Schema | None = None) -> pa.Schema:
    """Strings for every matched field, plus ``extra``'s fields (their types win)."""
    fields = {name: pa.field(name, pa.string()) for name in MATCHED_FIELDS}
    for field in extra or ():
        fields[field.name] = field
    return pa.schema(list(fields.values()))


def read_json_lines(
    path: Path | str,
    *,
    schema: pa.Schema | None = None,
    other_fields: str = "infer",
    block_size: int = 4 << 20,
) -> pa.Table:
    """A JSON-lines file of flat ECS events as a table, read by Arrow on every core.

    The matched fields are read as strings (``schema`` may add typed ones); fields not
    named are inferred (``other_fields="ignore"`` drops them). Raises
    ``pyarrow.ArrowInvalid`` for a line that is not a JSON object or a value that does
    not fit its field's type.
    """
    options = pj.ParseOptions(
        explicit_schema=json_lines_schema(schema), unexpected_field_behavior=other_fields
    )
    return pj.read_json(
        str(path), read_options=pj.ReadOptions(block_size=block_size), parse_options=options
    )
