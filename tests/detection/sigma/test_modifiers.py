"""Every modifier and condition form of the Sigma specification, with Sigma's default
case-insensitivity, on single rules and events."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .helpers import fires

CMD = "C:\\Windows\\System32\\cmd.exe"


@pytest.mark.parametrize(
    ("detection", "fields", "expected"),
    [
        # plain equality is whole-value and case-insensitive
        ({"Image": CMD.upper()}, {"Image": CMD}, True),
        ({"Image": "cmd.exe"}, {"Image": CMD}, False),
        # contains / startswith / endswith
        ({"CommandLine|contains": "WHOAMI"}, {"CommandLine": "cmd /c whoami /all"}, True),
        ({"CommandLine|contains": "net user"}, {"CommandLine": "cmd /c whoami"}, False),
        ({"Image|startswith": "c:\\windows\\"}, {"Image": CMD}, True),
        ({"Image|startswith": "\\cmd.exe"}, {"Image": CMD}, False),
        ({"Image|endswith": "\\CMD.EXE"}, {"Image": CMD}, True),
        ({"Image|endswith": "\\cmd"}, {"Image": CMD}, False),
        # a list is OR; |all makes it AND
        ({"CommandLine|contains": ["a1", "b2"]}, {"CommandLine": "x b2"}, True),
        ({"CommandLine|contains|all": ["a1", "b2"]}, {"CommandLine": "x b2"}, False),
        ({"CommandLine|contains|all": ["a1", "b2"]}, {"CommandLine": "b2 a1"}, True),
        # wildcards * and ?, and an escaped wildcard
        ({"CommandLine": "cmd*/c*who?mi"}, {"CommandLine": "CMD.exe /c whoAmi"}, True),
        ({"CommandLine": "cmd*/c*who?mi"}, {"CommandLine": "cmd /c whoammi"}, False),
        ({"CommandLine": "what\\?"}, {"CommandLine": "what?"}, True),
        ({"CommandLine": "what\\?"}, {"CommandLine": "whatX"}, False),
        ({"CommandLine": "*"}, {"CommandLine": ""}, True),
        ({"CommandLine": "*"}, {}, False),
        # re, with and without flags (case-sensitive unless |i)
        (
            {"CommandLine|re": "-e(nc)? [A-Za-z0-9+/=]{8,}"},
            {"CommandLine": "ps -enc SQBFAFgA"},
            True,
        ),
        ({"CommandLine|re": "WHOAMI"}, {"CommandLine": "whoami"}, False),
        ({"CommandLine|re|i": "WHOAMI"}, {"CommandLine": "whoami"}, True),
        ({"CommandLine|re|m": "^second$"}, {"CommandLine": "first\nsecond\nthird"}, True),
        ({"CommandLine|re": "^second$"}, {"CommandLine": "first\nsecond\nthird"}, False),
        ({"CommandLine|re|s": "first.second"}, {"CommandLine": "first\nsecond"}, True),
        ({"CommandLine|re": "first.second"}, {"CommandLine": "first\nsecond"}, False),
        # cidr, IPv4 and IPv6
        ({"DestinationIp|cidr": "10.0.0.0/8"}, {"DestinationIp": "10.20.30.40"}, True),
        ({"DestinationIp|cidr": "10.0.0.0/8"}, {"DestinationIp": "11.0.0.1"}, False),
        ({"DestinationIp|cidr": "fe80::/10"}, {"DestinationIp": "fe80::1%12"}, True),
        ({"DestinationIp|cidr": "fe80::/10"}, {"DestinationIp": "2001:db8::1"}, False),
        # base64, base64offset, utf16le/wide, utf16be, utf16
        (
            {"CommandLine|base64|contains": "http://"},
            {"CommandLine": "x " + base64.b64encode(b"http://").decode()},
            True,
        ),
        (
            {"CommandLine|base64offset|contains": "IEX"},
            {"CommandLine": base64.b64encode(b"a IEX (New-Object)").decode()},
            True,
        ),
        (
            {"CommandLine|base64offset|contains": "IEX"},
            {"CommandLine": base64.b64encode(b"Invoke-Expression").decode()},
            False,
        ),
        (
            {"CommandLine|wide|base64offset|contains": "ping"},
            {"CommandLine": "-enc " + base64.b64encode("; ping x".encode("utf-16le")).decode()},
            True,
        ),
        (
            {"CommandLine|utf16be|base64offset|contains": "ping"},
            {"CommandLine": base64.b64encode("ping".encode("utf-16be")).decode()},
            True,
        ),
        (
            {"CommandLine|utf16|base64offset|contains": "ping"},
            {"CommandLine": base64.b64encode("ping".encode("utf-16")).decode()},
            True,
        ),
        # windash: - and / and the Unicode dashes are interchangeable before a flag
        (
            {"CommandLine|windash|contains": " -exec bypass"},
            {"CommandLine": "ps /exec bypass"},
            True,
        ),
        (
            {"CommandLine|windash|contains": " -exec bypass"},
            {"CommandLine": "ps \u2013exec bypass"},
            True,
        ),
        (
            {"CommandLine|windash|contains": " -exec bypass"},
            {"CommandLine": "ps +exec bypass"},
            False,
        ),
        # exists
        ({"ParentImage|exists": True}, {"ParentImage": CMD}, True),
        ({"ParentImage|exists": True}, {}, False),
        ({"ParentImage|exists": False}, {}, True),
        # cased
        ({"CommandLine|cased": "Whoami"}, {"CommandLine": "Whoami"}, True),
        ({"CommandLine|cased": "Whoami"}, {"CommandLine": "whoami"}, False),
        ({"CommandLine|contains|cased": "AMSI"}, {"CommandLine": "x AMSI y"}, True),
        ({"CommandLine|contains|cased": "AMSI"}, {"CommandLine": "x amsi y"}, False),
        # neq (pySigma 2: a negated item)
        ({"IntegrityLevel|neq": "System"}, {"IntegrityLevel": "High"}, True),
        ({"IntegrityLevel|neq": "System"}, {"IntegrityLevel": "SYSTEM"}, False),
        # numeric comparisons, on numbers and on numeric text
        ({"ProcessId|lt": 100}, {"ProcessId": 4}, True),
        ({"ProcessId|lte": 100}, {"ProcessId": 100}, True),
        ({"ProcessId|gt": 100}, {"ProcessId": "4660"}, True),
        ({"ProcessId|gte": 100}, {"ProcessId": 99}, False),
        ({"ProcessId|gt": 100}, {"ProcessId": "n/a"}, False),
        # fieldref, plain and with contains / startswith / endswith
        ({"ParentImage|fieldref": "Image"}, {"Image": CMD, "ParentImage": CMD.upper()}, True),
        ({"ParentImage|fieldref": "Image"}, {"Image": CMD, "ParentImage": "x"}, False),
        (
            {"CommandLine|fieldref|contains": "Image"},
            {"Image": CMD, "CommandLine": f'"{CMD}" /c x'},
            True,
        ),
        ({"CommandLine|fieldref|startswith": "Image"}, {"Image": "a", "CommandLine": "ab"}, True),
        ({"CommandLine|fieldref|endswith": "Image"}, {"Image": "a", "CommandLine": "ab"}, False),
        # time parts of a timestamp field
        ({"UtcTime|hour": 10}, {"UtcTime": "2026-11-28 10:42:07.123"}, True),
        ({"UtcTime|minute": 42}, {"UtcTime": "2026-11-28T10:42:07Z"}, True),
        ({"UtcTime|year": 2025}, {"UtcTime": "2026-11-28 10:42:07.123"}, False),
        ({"UtcTime|month": 11}, {"UtcTime": "not a time"}, False),
        # numbers and booleans compare as text; null is absent
        ({"LogonId": 999}, {"LogonId": 999}, True),
        ({"LogonId": 999}, {"LogonId": "999"}, True),
        ({"Signed": True}, {"Signed": "true"}, True),
        ({"ParentCommandLine": None}, {}, True),
        ({"ParentCommandLine": None}, {"ParentCommandLine": "x"}, False),
        ({"ParentCommandLine": ""}, {"ParentCommandLine": ""}, True),
    ],
)
def test_modifier(detection: dict[str, object], fields: dict[str, object], expected: bool) -> None:
    assert fires({"sel": detection, "condition": "sel"}, **fields) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sel_a and sel_b", False),
        ("sel_a or sel_b", True),
        ("sel_a and not sel_b", True),
        ("not sel_a", False),
        ("1 of sel_*", True),
        ("any of sel_*", True),
        ("all of sel_*", False),
        ("1 of them", True),
        ("all of them", False),
        ("(sel_a or sel_b) and not filter", True),
        ("sel_a and not (sel_b or filter)", True),
        ("sel_a and not 1 of filter*", True),
        ("all of sel_a* and not sel_b", True),
    ],
)
def test_condition(condition: str, expected: bool) -> None:
    detection = {
        "sel_a": {"Image|endswith": "\\cmd.exe"},
        "sel_b": {"CommandLine|contains": "never"},
        "filter": {"User": "SYSTEM"},
        "condition": condition,
    }
    assert fires(detection, Image=CMD, CommandLine="cmd /c dir", User="ann") is expected


def test_keywords_search_every_value_as_a_substring() -> None:
    detection = {"keywords": ["sekurlsa::", "lsadump*sam"], "condition": "keywords"}
    assert fires(detection, CommandLine="mimikatz SEKURLSA::logonpasswords")
    assert fires(detection, Description="x lsadump::sam y")
    assert not fires(detection, CommandLine="lsadump", Description="sam")  # not across values
    assert not fires(detection, CommandLine="whoami")


def test_list_of_maps_is_or_and_map_is_and() -> None:
    detection = {
        "sel": [
            {"Image|endswith": "\\a.exe", "CommandLine|contains": "x"},
            {"Image|endswith": "\\b.exe"},
        ],
        "condition": "sel",
    }
    assert fires(detection, Image="c:\\a.exe", CommandLine="x")
    assert not fires(detection, Image="c:\\a.exe", CommandLine="y")
    assert fires(detection, Image="c:\\b.exe", CommandLine="y")


def test_multi_valued_fields_match_any_element() -> None:
    detection = {"sel": {"Tags|endswith": ".evil"}, "condition": "sel"}
    assert fires(detection, Tags=["a.good", "b.EVIL"])
    assert not fires(detection, Tags=["a.good"])


_text = st.text(alphabet="abAB\\/.- é", max_size=12)


@given(value=_text, needle=st.text(alphabet="abAB\\/.- é", min_size=1, max_size=4))
def test_string_modifiers_agree_with_python(value: str, needle: str) -> None:
    low, pat = value.lower(), needle.lower()
    escaped = needle.replace("\\", "\\\\")
    for modifier, expected in (
        ("contains", pat in low),
        ("startswith", low.startswith(pat)),
        ("endswith", low.endswith(pat)),
    ):
        detection = {"sel": {f"CommandLine|{modifier}": escaped}, "condition": "sel"}
        assert fires(detection, CommandLine=value) is expected, modifier
