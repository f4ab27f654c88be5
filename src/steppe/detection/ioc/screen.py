"""The IOC screen of JSON events over their bytes, in C: which events may hit at all.

:class:`ByteScreen` holds 64-bit hashes of the index's screen keys — exact addresses,
the ``"a.b.c."`` / ``"a.b."`` / ``"a."`` text keys its IPv4 networks cover
(:attr:`IocIndex.cidr_keys`), the last two labels of every name (:attr:`IocIndex.tails`),
hashes — in one open-addressed table, built once from the index's tables and then kept
in step with it: the keys the index logged since (:attr:`IocIndex.screen_log`) are
added when a scan finds the index changed (:attr:`IocIndex.generation`). Keys of
removed indicators stay until a rebuild (after :data:`REBUILD_SHARE` of the table's keys
have been removed, or when the log was trimmed past this screen): a stale key only sends
an event to the exact matcher, which finds nothing. A scan of a block of
JSON lines (or of one JSON array of events) reads each event's bytes once in C
(``_jsonscreen.c``: a strict JSON reader that keeps only the matched top-level fields'
string values), and returns the spans of the events that may hit.

The screen only narrows: it answers "no indicator, for anyone, can match this event",
never who may see what. A stale key (an indicator removed since the build) or a hash
collision keeps an event the exact matcher then turns away; an event it cannot judge
(escapes in a matched field, non-ASCII, IPv6, odd names, URLs, malformed JSON) is kept.
The kept events go to :meth:`IocMatcher.match_event`, which alone checks the
organisation's audience and ``valid_until``.

    >>> screen = ByteScreen(index)                          # doctest: +SKIP
    >>> screen.lines(b'{"destination.ip": "203.0.113.9"}\\n')      # doctest: +SKIP
    [(0, 33, 1)]

Without a C compiler at install time the extension is missing (it is optional in
``setup.py``): :func:`available` is False and callers use the Python screen.
"""

from __future__ import annotations

from steppe.detection.ioc.index import IocIndex

try:
    from steppe.detection.ioc._jsonscreen import Screen
except ImportError:  # built without a compiler: the Python screen does the work
    Screen = None  # type: ignore[assignment,misc]

__all__ = ["REBUILD_SHARE", "ByteScreen", "available"]

#: Rebuild the table once this share of its keys' values have been removed from the index.
REBUILD_SHARE = 0.25

# The flags of _jsonscreen.c: which checks the index needs.
_CIDR4, _L24, _L16, _L8, _V6, _SINGLE, _EMAIL = 1, 2, 4, 8, 16, 32, 64


def available() -> bool:
    """Whether the compiled screen was built."""
    return Screen is not None


class ByteScreen:
    """The screen keys of one :class:`IocIndex`, kept in step with its changes."""

    def __init__(self, index: IocIndex) -> None:
        if Screen is None:
            raise RuntimeError("the compiled IOC screen (_jsonscreen) was not built")
        self.index = index
        index.keep_screen_log = True
        self._screen = Screen(0)
        self._generation = -1
        self._logged = -1  # absolute position in the index's screen log
        self._removed = 0  # the index's removed_values at the last build

    def lines(self, data: bytes) -> list[tuple[int, int, int]]:
        """``(start, end, line number)`` of each line of ``data`` that may hit.

        Lines are cut as :meth:`bytes.splitlines` cuts them and numbered from 1; blank
        lines are never returned; a malformed line is (the caller's parse names it).
        """
        return self._current().lines(data)

    def array(self, data: bytes) -> list[tuple[int, int, int]] | None:
        """``(start, end, item number)`` of each event of a JSON array that may hit, or
        None when ``data`` is not a well-formed array of objects (the caller's full
        parse names what is wrong)."""
        return self._current().array(data)

    def _current(self) -> Screen:
        index = self.index
        if self._generation == index.generation:
            return self._screen
        screen = self._screen
        stale = index.removed_values - self._removed
        if self._logged < index.screen_log_start or stale > REBUILD_SHARE * max(screen.size, 64):
            self._screen = _build(index)
            self._removed = index.removed_values
        else:
            new = index.screen_log[self._logged - index.screen_log_start :]
            for kind in "ICTH":
                screen.add(kind, [value for k, value in new if k == kind], kind in "TH")
            screen.flags = _flags(index)
        self._logged = index.screen_log_start + len(index.screen_log)
        self._generation = index.generation
        return self._screen


def _flags(index: IocIndex) -> int:
    levels = index.cidr_key_levels
    flags = 0
    if index._cidr_count[4]:
        flags |= _CIDR4
        flags |= _L24 if levels[24] else 0
        flags |= _L16 if levels[16] else 0
        flags |= _L8 if levels[8] else 0
    if index.ipv6_values or index._cidr_count[6]:
        flags |= _V6
    if index.single_labels:
        flags |= _SINGLE
    if index.tables["email"]:
        flags |= _EMAIL
    return flags


def _build(index: IocIndex) -> Screen:
    tables = index.tables
    size = len(tables["ip"]) + len(index.cidr_keys) + len(index.tails) + len(tables["hash"])
    screen = Screen(_flags(index), size)
    screen.add("I", index.tables["ip"])
    screen.add("C", index.cidr_keys)
    screen.add("T", index.tails, True)
    screen.add("H", index.tables["hash"], True)
    return screen
