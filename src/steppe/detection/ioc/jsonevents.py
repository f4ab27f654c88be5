"""Match events that arrive as JSON bytes, parsing in full only the events that may hit.

:class:`IocMatcher` wants dicts, so a batch of JSON events costs a full parse of every
field of every event (``orjson.loads``) before matching starts — more than the matching.
Here `msgspec <https://jcristharif.com/msgspec/>`_ decodes each event into a small struct
of just the matched fields (the others are skipped in C, never made into Python objects),
and a screen over the batch's columns turns away the events that cannot hit:

- IP fields: exact values are one set intersection per column; CIDRs are screened by the
  text of the address up to its last dot (``"203.0.113."``), looked up among the /24
  (and, for short networks, /16 and /8) keys the index's IPv4 networks cover
  (:attr:`IocIndex.cidr_keys`);
- name fields: the last two labels (and the last one, when a single-label domain is
  indexed), found for the whole column with one regular expression over the joined,
  lower-cased, reversed names, looked up in :attr:`IocIndex.tails`;
- hashes: one set intersection per column (lower-cased when needed); URLs and e-mail
  addresses, rare in telemetry, value by value like the row matcher's prefilter.

Anything the screen cannot judge exactly as the row matcher would (IPv6, an address
with other characters than digits and dots, non-ASCII, a name ending with a dot, a
bracket or a digit, a name with a colon) is kept. The kept events — few — are parsed
in full with ``orjson`` and matched by :meth:`IocMatcher.match_event`, the one exact,
policy-checked match (the organisation's audience bit, ``valid_until``), so the hits
are those of :meth:`IocMatcher.match_events` over the same events, in the same order
(tests/detection/ioc/test_jsonevents.py checks that with hypothesis).

When the compiled screen was built (:mod:`~steppe.detection.ioc.screen`, C over the
events' bytes), it replaces all of the above up to the full parse of the kept events:
one pass of C per event instead of a msgspec decode and a Python screen per column. The
Python screen remains for an install without it, and for a JSON array that the C reader
finds malformed (so that the error is named the same way).

A matched field that is absent from a stream costs nothing: the decoder declares the
fields seen so far as strings and the others as ``null`` only, so a batch bringing a
new one fails validation at once and is matched by the reference path (a full parse),
which also teaches the decoder the new field. A value that is not a string (``null``,
a number, an object) sends its batch the same way.

    >>> matcher = JsonEventMatcher(index)                          # doctest: +SKIP
    >>> for event, hits in matcher.match_lines(data, org_id=2, now=now):  # doctest: +SKIP
    ...     print(event["destination.ip"], [h.hit.value for h in hits])
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import compress, repeat
from operator import attrgetter
from typing import Any

import msgspec
import orjson

from steppe.detection.ioc import screen as byte_screen
from steppe.detection.ioc.index import IocIndex
from steppe.detection.ioc.matcher import (
    DOMAIN_FIELDS,
    HASH_FIELDS,
    IP_FIELDS,
    MATCHED_FIELDS,
    URL_FIELDS,
    EventHit,
    IocMatcher,
)
from steppe.errors import InputError

__all__ = ["JsonEventMatcher"]

# Struct attributes must be identifiers: f0, f1, … in MATCHED_FIELDS order.
_ATTRS = {field: f"f{k}" for k, field in enumerate(MATCHED_FIELDS)}
_DIGITS = "0123456789"
# On the reversed joined names: each line's last two labels (reversed), then the rest
# of the line, consumed so that the scan goes on from the next line's start.
_LAST_TWO = re.compile(r"^([^.\n]*\.?[^.\n]*)[^\n]*", re.MULTILINE)
_LAST_ONE = re.compile(r"^([^.\n]*)[^\n]*", re.MULTILINE)
# A reversed name starting like this ends with a dot, a bracket or a digit: it may be an
# address, or need the full canonical form. A colon anywhere: an address or a port.
_ODD_NAME = re.compile(r"^[.\]0-9]|:", re.MULTILINE)

Matched = list[tuple[dict[str, Any], list[EventHit]]]


class JsonEventMatcher:
    """JSON events (lines, or one array) → hits against one :class:`IocIndex`."""

    def __init__(self, index: IocIndex, *, compiled: bool = True) -> None:
        """``compiled=False``: the Python screen even where the compiled one was built."""
        self.index = index
        self.matcher = IocMatcher(index)
        self._present: frozenset[str] = frozenset()
        self._decoders: dict[frozenset[str], msgspec.json.Decoder[Any]] = {}
        self._tails_backwards: set[str] = set()
        self._generation = -1  # of the index, when _tails_backwards was made
        self._bytes = (
            byte_screen.ByteScreen(index) if compiled and byte_screen.available() else None
        )

    # -- entry points ---------------------------------------------------------------------

    def match_lines(
        self, data: bytes, org_id: int, now: str
    ) -> Iterator[tuple[dict[str, Any], list[EventHit]]]:
        """``(event, hits)`` for each line of ``data`` (JSON lines) that hits anything.

        Blank lines are skipped; a line that is not a JSON object raises
        :class:`~steppe.errors.InputError` naming it.
        """
        if self._bytes is not None:
            return iter(self._match_spans(data, self._bytes.lines(data), org_id, now, True))
        lines = data.splitlines()
        if b"" in lines:  # keep the numbers of the others for errors
            numbers = [k for k, line in enumerate(lines, 1) if line]
            lines = [line for line in lines if line]
            return iter(self._match(lines, org_id, now, numbers))
        return iter(self._match(lines, org_id, now, range(1, len(lines) + 1)))

    def match_array(
        self, data: bytes, org_id: int, now: str
    ) -> Iterator[tuple[dict[str, Any], list[EventHit]]]:
        """The same for a JSON array of events (a broker message of the ingest)."""
        if self._bytes is not None:
            spans = self._bytes.array(data)
            if spans is not None:
                return iter(self._match_spans(data, spans, org_id, now, False))
        try:
            items: list[msgspec.Raw] = msgspec.json.decode(data, type=list[msgspec.Raw])
        except msgspec.DecodeError as exc:
            raise InputError(f"not a JSON array of events: {exc}") from None
        return iter(self._match(items, org_id, now, None))

    # -- the work ----------------------------------------------------------------------

    def _match(
        self,
        items: Sequence[bytes | msgspec.Raw],
        org_id: int,
        now: str,
        lines: Sequence[int] | None,
    ) -> Matched:
        if not items:
            return []
        decode = self._decoder().decode
        try:
            structs = list(map(decode, items))
        except msgspec.DecodeError:  # a new matched field, not a string, not JSON…
            return self._reference(items, org_id, now, lines)
        match_event = self.matcher.match_event
        loads = orjson.loads
        found: Matched = []
        for row in self._screen(structs):
            event = loads(memoryview(items[row]))
            hits = match_event(event, org_id, now)
            if hits:
                found.append((event, hits))
        return found

    def _match_spans(
        self, data: bytes, spans: list[tuple[int, int, int]], org_id: int, now: str, lines: bool
    ) -> Matched:
        """The exact match of the events the compiled screen kept: ``(start, end,
        number)`` of each in ``data``, numbered by line (``lines``) or array item."""
        match_event = self.matcher.match_event
        view = memoryview(data)
        found: Matched = []
        for start, end, number in spans:
            item = view[start:end]
            line, field = (number, None) if lines else (None, f"[{number}]")
            if lines and not bytes(item).strip():
                continue  # blank but for a form feed or the like, as splitlines() leaves it
            try:
                event = orjson.loads(item)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc}", line=line, field=field) from None
            if not isinstance(event, dict):
                raise InputError("not a JSON object", line=line, field=field)
            hits = match_event(event, org_id, now)
            if hits:
                found.append((event, hits))
        return found

    def _reference(
        self,
        items: Sequence[bytes | msgspec.Raw],
        org_id: int,
        now: str,
        lines: Sequence[int] | None,
    ) -> Matched:
        """Full parse and the row matcher; learns which matched fields the batch has.

        ``lines``: the line number of each item (JSON lines), or None (an array).
        """
        events: list[dict[str, Any]] = []
        for k, item in enumerate(items):
            if not bytes(item).strip():
                continue
            line = None if lines is None else lines[k]
            field = f"[{k}]" if lines is None else None  # the array's item
            try:
                event = orjson.loads(memoryview(item))
            except orjson.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc}", line=line, field=field) from None
            if not isinstance(event, dict):
                raise InputError("not a JSON object", line=line, field=field)
            events.append(event)
        seen = {f for f in MATCHED_FIELDS for event in events if isinstance(event.get(f), str)}
        if not seen <= self._present:
            self._present = self._present | seen
        return list(self.matcher.match_events(events, org_id, now))  # type: ignore[arg-type]

    def _decoder(self) -> msgspec.json.Decoder[Any]:
        present = self._present
        decoder = self._decoders.get(present)
        if decoder is None:
            fields: list[tuple[str, Any, Any]] = [
                (_ATTRS[field], str, msgspec.field(default="", name=field))
                if field in present
                else (_ATTRS[field], None, msgspec.field(default=None, name=field))
                for field in MATCHED_FIELDS
            ]
            struct = msgspec.defstruct("MatchedFields", fields, gc=False)
            decoder = self._decoders[present] = msgspec.json.Decoder(struct)
        return decoder

    def _screen(self, structs: list[Any]) -> list[int]:
        """The rows of ``structs`` (decoded by this matcher) that may hit, in order."""
        rows: set[int] = set()
        present = self._present
        for field in MATCHED_FIELDS:
            if field not in present:
                continue
            values: list[str] = list(map(attrgetter(_ATTRS[field]), structs))
            if values.count("") == len(values):
                continue
            if field in IP_FIELDS:
                self._screen_ips(values, rows)
            elif field in DOMAIN_FIELDS:
                self._screen_names(values, rows)
            elif field in HASH_FIELDS:
                self._screen_hashes(values, rows)
            elif field in URL_FIELDS:
                self._screen_each(values, rows, self._url_may_hit)
            elif self.index.tables["email"]:
                self._screen_each(values, rows, self._email_may_hit)
        return sorted(rows)

    # -- the screens, one column at a time --------------------------------------------------

    def _screen_ips(self, values: list[str], rows: set[int]) -> None:
        index = self.index
        every = range(len(values))
        exact = index.tables["ip"].keys() & values
        if exact:
            rows.update(compress(every, map(exact.__contains__, values)))
        joined = "".join(values)
        if ":" in joined or "/" in joined or "\0" in joined:
            # IPv6, or what the CIDR trie reads past (a prefix length, a NUL): the trie
            # reads no other IPv4 text than the canonical, whose key is found below.
            v6 = bool(index.ipv6_values or index._cidr_count[6])
            v4 = bool(index._cidr_count[4])
            for row, value in enumerate(values):
                if ":" in value:
                    if v6:
                        rows.add(row)
                elif v4 and ("/" in value or "\0" in value):
                    rows.add(row)
        levels = index.cidr_key_levels
        if not index._cidr_count[4]:
            return
        keys = index.cidr_keys
        # "a.b.c.d" → "a.b.c.": the /24 key, without a Python step per value.
        key24 = list(map(str.rstrip, values, repeat(_DIGITS)))
        if levels[24]:
            hit = keys.keys() & key24
            if hit:
                rows.update(compress(every, map(hit.__contains__, key24)))
        if levels[16] or levels[8]:
            key16 = list(map(str.rstrip, map(str.rstrip, key24, repeat(".")), repeat(_DIGITS)))
            if levels[16]:
                hit = keys.keys() & key16
                if hit:
                    rows.update(compress(every, map(hit.__contains__, key16)))
            if levels[8]:
                key8 = list(map(str.rstrip, map(str.rstrip, key16, repeat(".")), repeat(_DIGITS)))
                hit = keys.keys() & key8
                if hit:
                    rows.update(compress(every, map(hit.__contains__, key8)))

    def _screen_names(self, values: list[str], rows: set[int]) -> None:
        joined = "\n".join(values)
        n = len(values)
        if not joined.isascii() or joined.count("\n") != n - 1:
            # IDN names (their canonical form is not .lower()) or a newline in a value.
            self._screen_each(values, rows, self._name_may_hit)
            return
        if self._generation != self.index.generation:
            self._tails_backwards = {tail[::-1] for tail in self.index.tails}
            self._generation = self.index.generation
        tails = self._tails_backwards
        backwards = joined.lower()[::-1]  # line k is row n - 1 - k
        last = n - 1
        found = _LAST_TWO.findall(backwards)
        if len(found) != n:  # not one per line: be safe, not fast
            self._screen_each(values, rows, self._name_may_hit)
            return
        hit = tails.intersection(found)
        if hit:
            rows.update(last - k for k in compress(range(n), map(hit.__contains__, found)))
        if self.index.single_labels:
            found = _LAST_ONE.findall(backwards)
            hit = tails.intersection(found)
            if hit:
                rows.update(last - k for k in compress(range(n), map(hit.__contains__, found)))
        for odd in _ODD_NAME.finditer(backwards):
            rows.add(last - backwards.count("\n", 0, odd.start()))

    def _screen_hashes(self, values: list[str], rows: set[int]) -> None:
        hashes = self.index.tables["hash"]
        every = range(len(values))
        joined = "".join(values)
        if joined != joined.lower():
            values = list(map(str.lower, values))
        hit = hashes.keys() & values
        if hit:
            rows.update(compress(every, map(hit.__contains__, values)))

    @staticmethod
    def _screen_each(values: list[str], rows: set[int], may_hit: Any) -> None:
        for row, value in enumerate(values):
            if value:
                try:
                    if may_hit(value):
                        rows.add(row)
                except (ValueError, IndexError):
                    rows.add(row)  # the exact matcher decides

    def _name_may_hit(self, v: str) -> bool:
        return self.matcher.could_hit({DOMAIN_FIELDS[0]: v})

    def _email_may_hit(self, v: str) -> bool:
        return v.strip().lower() in self.index.tables["email"]

    def _url_may_hit(self, v: str) -> bool:
        return self.matcher.could_hit({URL_FIELDS[0]: v})
