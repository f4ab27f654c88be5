"""Syslog messages (RFC 5424 and RFC 3164) to normalised events.

One message in (the bytes of a UDP datagram or of one TCP frame), one event out, never
an exception: what cannot be read is kept as a message-only event and reported as a
:class:`ParseProblem` next to it, because syslog must not drop what it cannot fully parse.

    >>> from datetime import UTC, datetime
    >>> received = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    >>> event, problem = parse_message(
    ...     b'<34>1 2026-11-28T09:59:58.5+01:00 fw01 sshd 4242 AUTH '
    ...     b'[origin ip="10.1.2.3"] Failed password for root',
    ...     received,
    ...     sender="10.1.2.3",
    ... )
    >>> event["@timestamp"], event["host.name"], event["log.syslog.severity.code"]
    ('2026-11-28T08:59:58.500000Z', 'fw01', 2)
    >>> event["raw"]["structured_data"], problem
    ({'origin': {'ip': '10.1.2.3'}}, None)

RFC 3164 timestamps carry no year: the most recent year that puts the message before
its arrival (with two days' grace for a fast sender clock) is assumed, so a December
message read in January lands in the old year. They carry no zone either: UTC is
assumed. Devices that put an ISO timestamp in a 3164 header, omit the PRI or the
hostname, or end messages with newlines or NULs are read too; a PRI followed by content
only (RFC 3164 4.3.3; FortiGate's key=value lines) is a valid message whose
``@timestamp`` is its arrival. Only a message with neither PRI nor header is counted as
a problem.

The event's fields (see :data:`~steppe.ingest.telemetry.model.ECS_COLUMNS`):
``@timestamp``, ``event.ingested``, ``event.module``/``event.dataset`` ``syslog``,
``event.kind``, ``event.severity`` and ``log.syslog.severity.code``,
``log.syslog.facility.code``, ``host.name``, ``log.syslog.appname``, ``process.pid`` (when
the PROCID is a number), ``log.syslog.msgid``, ``log.source.address`` (the sender as seen
by the receiver) and ``message``. ``raw`` holds every parsed part, structured data as
``{sd_id: {param: value}}`` (a list of values when a param repeats).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.storage import timestamps
from steppe.storage.timestamps import format_ts

__all__ = ["SOURCE", "parse_message"]

#: What :class:`ParseProblem` names as the source of a syslog message.
SOURCE = "syslog"

# re.ASCII: `\d` would also take other scripts' digits, which int() then reads.
_PRI = re.compile(r"<(\d{1,3})>", re.ASCII)
_BAD_PRI = re.compile(r"<[^>\s]{0,8}>")
_V5424 = re.compile(r"([1-9]\d?) (\S+) (\S+) (\S+) (\S+) (\S+) ?", re.ASCII)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
# `Oct 11 22:14:15`, `Oct  1 22:14:15.123`, Cisco's `*Mar  1 2026 18:48:50` (the `*`
# or `.` marks a clock the device itself does not trust).
_BSD_TS = re.compile(
    r"[*.]?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) "
    r"(?:(\d{4}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?:? +",
    re.ASCII,
)
_ISO_TS = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?) +",
    re.ASCII,
)
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,128})\])?:(?: |$)")
# One element in one match (a hand-written scanner was twice as slow): `[id p="v" …]`,
# values with `\"`, `\\`, `\]` escapes; stray spaces before `]` tolerated.
_SD_ELEMENT = re.compile(
    r'\[([^\s=\]"]{1,64})((?: +[^\s=\]"]{1,64}="(?:[^"\\]|\\.)*")*) *\]', re.DOTALL
)
_SD_PARAM = re.compile(r'([^\s=\]"]{1,64})="((?:[^"\\]|\\.)*)"', re.DOTALL)
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_MAX_PID = 2**63 - 1
_CLOCK_AHEAD = timedelta(days=2)


def parse_message(
    data: bytes,
    received: datetime | float,
    *,
    sender: str | None = None,
    truncated: bool = False,
) -> tuple[NormalisedEvent, ParseProblem | None]:
    """The event for one syslog message, and what could not be read of it (or None).

    ``received`` (an aware datetime, or seconds since the epoch as the receiver reads
    them from ``time.time()``) is the arrival time: ``event.ingested``, the fallback
    ``@timestamp`` and the year of RFC 3164 timestamps. ``truncated`` says the receiver
    cut the message at its size limit; it is kept in ``raw``.
    """
    if isinstance(received, datetime):
        received_ts = format_ts(received)
        epoch = received.timestamp()
    else:
        received_ts = _epoch_ts(received)
        epoch = received
    text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
    event: NormalisedEvent = {
        "@timestamp": received_ts,
        "event.ingested": received_ts,
        "event.module": "syslog",
        "event.dataset": "syslog",
        "event.kind": "event",
    }
    if sender is not None:
        event["log.source.address"] = sender
    raw: dict[str, Any] = {}
    problems: list[str] = []

    pos = 0
    m = _PRI.match(text)
    if m is not None and int(m[1]) <= 191:
        pri = int(m[1])
        raw.update(pri=pri, facility=pri >> 3, severity=pri & 7)
        event["log.syslog.facility.code"] = pri >> 3
        event["log.syslog.severity.code"] = event["event.severity"] = pri & 7
        pos = m.end()
    elif text.startswith("<"):
        bad = _BAD_PRI.match(text)
        problems.append(f"bad PRI {bad[0] if bad else text[:5]!r}")
        pos = bad.end() if bad else 0

    v5424 = _V5424.match(text, pos)
    if v5424 is not None and v5424[1] == "1":
        _read_5424(text, v5424, event, raw, problems)
    elif _read_3164(text, pos, epoch, event, raw, problems):
        pass
    elif "pri" in raw:
        # RFC 3164 4.3.3: a PRI and no TIMESTAMP/HOSTNAME is a message of content only
        # (FortiGate's `<189>date=… time=… devname=…` is one).
        raw.update(format="rfc3164", msg=text[pos:])
        event["message"] = text[pos:]
    else:
        raw.update(format="unparsed", original=text)
        event["message"] = text
        problems.append("no RFC 5424 or RFC 3164 header; kept as message only")
    if truncated:
        raw["truncated"] = True
        problems.append("message over the size limit, truncated")
    event["raw"] = raw
    problem = ParseProblem(SOURCE, None, "; ".join(problems)) if problems else None
    return event, problem


def _read_5424(
    text: str,
    header: re.Match[str],
    event: NormalisedEvent,
    raw: dict[str, Any],
    problems: list[str],
) -> None:
    version, stamp, hostname, app_name, procid, msgid = header.groups()
    raw.update(
        format="rfc5424",
        version=int(version),
        timestamp=_nil(stamp),
        hostname=_nil(hostname),
        app_name=_nil(app_name),
        procid=_nil(procid),
        msgid=_nil(msgid),
    )
    if stamp != "-":
        try:
            if not stamp.isascii():
                raise ValueError(stamp)
            event["@timestamp"] = _iso(stamp)
        except (ValueError, OverflowError):
            problems.append(f"TIMESTAMP {stamp[:40]!r} is not RFC 3339; using the arrival time")
    if hostname != "-":
        event["host.name"] = hostname
    if app_name != "-":
        event["log.syslog.appname"] = app_name
    if procid.isascii() and procid.isdigit() and int(procid) <= _MAX_PID:
        event["process.pid"] = int(procid)
    if msgid != "-":
        event["log.syslog.msgid"] = msgid
    pos = header.end()
    try:
        structured, pos = _structured_data(text, pos)
    except ValueError as exc:
        problems.append(f"STRUCTURED-DATA: {exc}; kept in the message")
        structured = {}
    raw["structured_data"] = structured
    if text.startswith(" ", pos):
        pos += 1
    msg = text[pos:].removeprefix("\ufeff")
    raw["msg"] = msg
    event["message"] = msg


def _read_3164(
    text: str,
    pos: int,
    received: float,
    event: NormalisedEvent,
    raw: dict[str, Any],
    problems: list[str],
) -> bool:
    """Fill ``event`` from a BSD header at ``pos``; False when there is none."""
    bsd = _BSD_TS.match(text, pos)
    iso = None if bsd is not None else _ISO_TS.match(text, pos)
    if bsd is None and iso is None:
        return False
    stamp_match = bsd if bsd is not None else iso
    assert stamp_match is not None
    stamp = stamp_match[0].rstrip(" :")
    raw.update(format="rfc3164", timestamp=stamp)
    try:
        if bsd is not None:
            event["@timestamp"] = _bsd_timestamp(bsd, received)
        else:
            event["@timestamp"] = _iso(stamp_match[1], assume_utc=True)
    except (ValueError, OverflowError):
        problems.append(f"TIMESTAMP {stamp[:40]!r} is not a date; using the arrival time")

    pos = stamp_match.end()
    # The hostname is optional in practice: `Oct 11 22:14:15 su: ...` has none. A first
    # word that reads as a TAG (ends with `:`) is one.
    tag = _TAG.match(text, pos)
    hostname = None
    if tag is None:
        space = text.find(" ", pos)
        word = text[pos:] if space < 0 else text[pos:space]
        if word:
            hostname = word
            event["host.name"] = word
            pos = len(text) if space < 0 else space + 1
            if text.startswith(": ", pos):  # Cisco ASA with a device id: `asa01 : %ASA-…`
                pos += 2
            tag = _TAG.match(text, pos)
    raw["hostname"] = hostname
    if tag is not None:
        raw["tag"] = tag[1]
        event["log.syslog.appname"] = tag[1]
        pid = tag[2]
        raw["pid"] = pid
        if pid is not None and pid.isascii() and pid.isdigit() and int(pid) <= _MAX_PID:
            event["process.pid"] = int(pid)
        pos = tag.end()
    msg = text[pos:]
    raw["msg"] = msg
    event["message"] = msg
    return True


def _structured_data(text: str, pos: int) -> tuple[dict[str, dict[str, Any]], int]:
    """``{sd_id: {name: value}}`` and the position after it; ValueError when malformed."""
    if text.startswith("-", pos):
        return {}, pos + 1
    if not text.startswith("[", pos):
        raise ValueError("expected '-' or '['")
    elements: dict[str, dict[str, Any]] = {}
    while text.startswith("[", pos):
        element = _SD_ELEMENT.match(text, pos)
        if element is None:
            raise ValueError(f"malformed element at offset {pos}: {text[pos : pos + 40]!r}")
        params = elements.setdefault(element[1], {})
        for name, value in _SD_PARAM.findall(element[2]):
            if "\\" in value:
                value = _SD_UNESCAPE.sub(r"\1", value)
            previous = params.get(name)
            if previous is None:
                params[name] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                params[name] = [previous, value]
        pos = element.end()
    return elements, pos


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _iso(text: str, *, assume_utc: bool = False) -> str:
    if not assume_utc:
        return timestamps.normalise(text)  # cached, with a fast path for `Z`
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_ts(moment)


@lru_cache(maxsize=64)
def _second_ts(second: int) -> str:
    return format_ts(datetime.fromtimestamp(second, UTC))[:19]


def _epoch_ts(epoch: float) -> str:
    """``format_ts`` of an epoch time; a receiver's arrivals share their seconds, so the
    date and time part is cached (format_ts was a fifth of the parse time)."""
    second = int(epoch // 1)
    micro = round((epoch - second) * 1_000_000)
    if micro >= 1_000_000:
        second, micro = second + 1, 0
    return f"{_second_ts(second)}.{micro:06d}Z"


def _bsd_timestamp(m: re.Match[str], epoch: float) -> str:
    # A burst of messages shares its few timestamps: cached, by the hour of arrival.
    return _bsd_moment(m.group(1, 2, 3, 4, 5, 6, 7), int(epoch // 3600))


@lru_cache(maxsize=4096)
def _bsd_moment(parts: tuple[str | Any, ...], arrival_hour: int) -> str:
    name, day_text, year_text, hour_text, minute_text, second_text, fraction = parts
    month = _MONTHS[name]
    day, hour, minute, second = int(day_text), int(hour_text), int(minute_text), int(second_text)
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    if year_text:
        moment = datetime(int(year_text), month, day, hour, minute, second, micro, tzinfo=UTC)
        return format_ts(moment)
    # The most recent such moment, allowing the sender's clock to run a little ahead (a
    # `Jan  1 00:00:01` read at 23:59:59 on 31 December is next year's); Feb 29 may
    # reach back four years.
    received = datetime.fromtimestamp(arrival_hour * 3600, UTC)
    latest = received + _CLOCK_AHEAD
    for year in range(received.year + 1, received.year - 5, -1):
        try:
            moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        except ValueError:
            continue
        if moment <= latest:
            return format_ts(moment)
    raise ValueError("no such date")
