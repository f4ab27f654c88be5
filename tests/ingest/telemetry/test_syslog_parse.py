"""Syslog parsing over real-world-shaped messages of both RFCs, and arbitrary bytes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steppe.ingest.telemetry.model import ECS_COLUMNS
from steppe.ingest.telemetry.syslog_parse import parse_message

RECEIVED = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
COLUMNS = {name for name, _ in ECS_COLUMNS}
STORED_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def parse(data: bytes, received: datetime = RECEIVED) -> dict[str, object]:
    event, problem = parse_message(data, received, sender="192.0.2.7")
    assert problem is None, str(problem)
    return event


# -- RFC 5424 ------------------------------------------------------------------------


def test_rfc5424_example_with_structured_data_and_bom() -> None:
    event = parse(
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        b'[examplePriority@32473 class="high"] \xef\xbb\xbfAn application event log entry'
    )
    assert event["@timestamp"] == "2003-10-11T22:14:15.003000Z"
    assert event["event.ingested"] == "2026-11-28T10:00:00.000000Z"
    assert event["event.module"] == event["event.dataset"] == "syslog"
    assert event["log.syslog.facility.code"] == 20
    assert event["log.syslog.severity.code"] == 5
    assert event["host.name"] == "mymachine.example.com"
    assert event["log.syslog.appname"] == "evntslog"
    assert event["log.syslog.msgid"] == "ID47"
    assert event["log.source.address"] == "192.0.2.7"
    assert "process.pid" not in event
    assert event["message"] == "An application event log entry"  # BOM removed
    raw = event["raw"]
    assert isinstance(raw, dict)
    assert raw["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }
    assert raw["procid"] is None
    assert raw["format"] == "rfc5424"


def test_rfc5424_offsets_and_fractions_become_utc_microseconds() -> None:
    event = parse(b"<34>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time")
    assert event["@timestamp"] == "2003-08-24T12:14:15.000003Z"
    assert event["process.pid"] == 8710
    assert event["message"] == "%% It's time"
    assert event["log.syslog.severity.code"] == 2
    assert event["log.syslog.facility.code"] == 4


def test_rfc5424_structured_data_escapes() -> None:
    event = parse(
        b'<13>1 2026-11-28T09:00:00Z h app - - [x@1 q="say \\"hi\\"" b="a\\]b" s="c:\\\\tmp" '
        b'o="keep \\n as is"][x@1 q="again"] msg'
    )
    raw = event["raw"]
    assert isinstance(raw, dict)
    assert raw["structured_data"] == {
        "x@1": {"q": ['say "hi"', "again"], "b": "a]b", "s": "c:\\tmp", "o": "keep \\n as is"}
    }
    assert event["message"] == "msg"


def test_rfc5424_all_nil_and_no_message() -> None:
    event = parse(b"<14>1 - - - - - -")
    assert event["@timestamp"] == "2026-11-28T10:00:00.000000Z"  # arrival time
    assert "host.name" not in event
    assert event["message"] == ""


def test_rfc5424_malformed_structured_data_is_kept_in_the_message() -> None:
    event, problem = parse_message(b'<14>1 - host app - - [id a="unterminated] text', RECEIVED)
    assert problem is not None and "STRUCTURED-DATA" in problem.message
    assert event["host.name"] == "host"
    assert event["message"] == '[id a="unterminated] text'


def test_rfc5424_bad_timestamp_falls_back_to_arrival() -> None:
    event, problem = parse_message(b"<14>1 2026-13-45T99:00:00Z host app - - - hi", RECEIVED)
    assert problem is not None and "TIMESTAMP" in problem.message
    assert event["@timestamp"] == "2026-11-28T10:00:00.000000Z"
    assert event["message"] == "hi"


# -- RFC 3164 ------------------------------------------------------------------------


def test_rfc3164_example() -> None:
    event = parse(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert event["@timestamp"] == "2026-10-11T22:14:15.000000Z"
    assert event["host.name"] == "mymachine"
    assert event["log.syslog.appname"] == "su"
    assert event["message"] == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3164_tag_with_pid_and_padded_day_and_trailing_newline_and_nuls() -> None:
    event = parse(b"<38>Nov  3 04:05:06 gw sshd[12345]: Accepted publickey for ops\n\x00\x00")
    assert event["@timestamp"] == "2026-11-03T04:05:06.000000Z"
    assert event["process.pid"] == 12345
    assert event["log.syslog.appname"] == "sshd"
    assert event["message"] == "Accepted publickey for ops"


@pytest.mark.parametrize(
    ("stamp", "received", "expected"),
    [
        # December message read just after New Year: last year.
        (b"Dec 31 23:59:58", datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC), "2026-12-31T23:59:58"),
        # Sender clock a little ahead across New Year: next year.
        (b"Jan  1 00:00:03", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), "2027-01-01T00:00:03"),
        # The 29th of February read in a common year: the last leap year.
        (b"Feb 29 12:00:00", datetime(2027, 3, 1, tzinfo=UTC), "2024-02-29T12:00:00"),
        (b"Nov 28 09:59:00", RECEIVED, "2026-11-28T09:59:00"),
    ],
)
def test_rfc3164_year_is_inferred_from_arrival(
    stamp: bytes, received: datetime, expected: str
) -> None:
    event = parse(b"<13>" + stamp + b" host app: x", received)
    assert event["@timestamp"] == expected + ".000000Z"


def test_rfc3164_without_pri_or_hostname() -> None:
    event = parse(b"Oct  1 22:14:15 kernel: [ 1.0] eth0 up")
    assert "log.syslog.facility.code" not in event
    assert "host.name" not in event
    assert event["log.syslog.appname"] == "kernel"
    assert event["message"] == "[ 1.0] eth0 up"


def test_rfc3164_with_iso_timestamp_and_cisco_year() -> None:
    iso = parse(b"<30>2026-11-28T10:00:00.123+02:00 ap1 hostapd: wlan0: STA associated")
    assert iso["@timestamp"] == "2026-11-28T08:00:00.123000Z"
    assert iso["host.name"] == "ap1"
    assert iso["log.syslog.appname"] == "hostapd"
    cisco = parse(b"<189>*Mar  1 2026 18:48:50.483: rtr1 %SYS-5-CONFIG_I: Configured")
    assert cisco["@timestamp"] == "2026-03-01T18:48:50.483000Z"
    assert cisco["host.name"] == "rtr1"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (  # Cisco ASA, timestamp with year, no device id
            b"<166>Nov 28 2026 09:00:00: %ASA-6-302013: Built outbound TCP connection 1",
            {"@timestamp": "2026-11-28T09:00:00.000000Z", "log.syslog.appname": "%ASA-6-302013",
             "message": "Built outbound TCP connection 1", "log.syslog.severity.code": 6},
        ),
        (  # Cisco ASA with a device id
            b"<166>Nov 28 2026 09:00:00 asa01 : %ASA-4-106023: Deny tcp src outside:203.0.113.5/4444",
            {"host.name": "asa01", "log.syslog.appname": "%ASA-4-106023",
             "message": "Deny tcp src outside:203.0.113.5/4444"},
        ),
        (  # FortiGate: a PRI and key=value content, no header
            b'<189>date=2026-11-28 time=09:00:00 devname="FG100" type="traffic" srcip=10.0.0.5',
            {"message": 'date=2026-11-28 time=09:00:00 devname="FG100" type="traffic" srcip=10.0.0.5',
             "log.syslog.facility.code": 23, "@timestamp": "2026-11-28T10:00:00.000000Z"},
        ),
        (  # NXLog forwarding Windows events as RFC 5424
            b'<14>1 2026-11-28T09:00:00.123456+00:00 WIN-DC01 Microsoft-Windows-Security-Auditing'
            b' 4 - [NXLOG@14506 EventReceivedTime="2026-11-28 09:00:01" SourceModuleName="eventlog"]'
            b" An account failed to log on.",
            {"host.name": "WIN-DC01", "log.syslog.appname": "Microsoft-Windows-Security-Auditing",
             "process.pid": 4, "message": "An account failed to log on."},
        ),
        (  # rsyslog forwarding a file: ISO timestamp, no PRI
            b"2026-11-28T09:00:00+00:00 web01 nginx[812]: 203.0.113.9 - - GET /admin",
            {"host.name": "web01", "log.syslog.appname": "nginx", "process.pid": 812,
             "message": "203.0.113.9 - - GET /admin"},
        ),
        (  # CEF over syslog: the CEF header is not a TAG
            b"<134>Nov 28 09:00:00 host-01 CEF:0|Vendor|Product|1.0|100|Blocked|5|src=10.0.0.1",
            {"host.name": "host-01", "message": "CEF:0|Vendor|Product|1.0|100|Blocked|5|src=10.0.0.1"},
        ),
        (  # a TAG with a slash, and brackets in the message
            b"<22>Nov 28 09:00:00 mx1 postfix/smtpd[1234]: connect from unknown[203.0.113.7]",
            {"log.syslog.appname": "postfix/smtpd", "process.pid": 1234,
             "message": "connect from unknown[203.0.113.7]"},
        ),
    ],
)  # fmt: skip
def test_real_world_devices(data: bytes, expected: dict[str, object]) -> None:
    event = parse(data)
    assert {key: event.get(key) for key in expected} == expected


def test_bad_pri_is_reported_and_the_rest_still_read() -> None:
    event, problem = parse_message(b"<999>Oct 11 22:14:15 host app: text", RECEIVED)
    assert problem is not None and "PRI" in problem.message
    assert "log.syslog.severity.code" not in event
    assert event["host.name"] == "host"
    assert event["message"] == "text"


def test_unparseable_is_kept_as_message_only() -> None:
    event, problem = parse_message(b"just some words\r\n", RECEIVED, sender="10.0.0.1")
    assert problem is not None
    assert event["message"] == "just some words"
    assert event["@timestamp"] == "2026-11-28T10:00:00.000000Z"
    assert event["raw"] == {"format": "unparsed", "original": "just some words"}


def test_truncation_is_recorded() -> None:
    event, problem = parse_message(b"<13>Oct 11 22:14:15 host app: cut", RECEIVED, truncated=True)
    assert problem is not None and "truncated" in problem.message
    assert event["raw"]["truncated"] is True


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    event = parse(b"<13>Oct 11 22:14:15 host app: caf\xe9")
    assert event["message"] == "caf\ufffd"


# -- properties ----------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_give_a_storable_event(data: bytes) -> None:
    _check_event(data)


_PIECES = st.sampled_from(
    [b"<", b">", b"<13>", b"<191>", b"1 ", b"- ", b"[", b"]", b'"', b"\\", b"=", b" ", b"\n",
     b"\x00", b"Feb 29 ", b"Dec 31 23:59:59 ", b"2026-11-28T10:00:00Z ", b"x@1 a=\"", b"app[",
     b"12]: ", b"\xef\xbb\xbf", b"99999999999999999999 ", b"0001-01-01T00:00:00+05:00 ",
     "<1\u0663>".encode(), "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0668T09:00:00Z ".encode(), "Nov \u0662\u0668 ".encode(), "[\u0663]: ".encode()]  # other scripts' digits
)  # fmt: skip


@given(st.lists(_PIECES, max_size=20).map(b"".join))
def test_syslog_shaped_garbage_never_raises(data: bytes) -> None:
    _check_event(data)


def _check_event(data: bytes) -> None:
    event, problem = parse_message(data, RECEIVED, sender="::1")
    assert set(event) - {"raw"} <= COLUMNS
    for key in ("@timestamp", "event.ingested"):
        assert STORED_TS.fullmatch(event[key]), event[key]
    pid = event.get("process.pid")
    assert pid is None or 0 <= pid < 2**63
    assert "message" in event
    orjson.dumps(event["raw"])  # the lake stores raw as JSON
    assert problem is None or problem.source == "syslog"
