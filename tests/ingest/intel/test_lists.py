"""List and CSV feeds: the presets on the real feeds, mappings, bad rows, never a crash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from steppe.errors import InputError
from steppe.ingest.intel import (
    PRESETS,
    FeedEntry,
    ListMapping,
    RowProblem,
    mapping_from,
    preset_for_file,
    read_list,
)
from steppe.intel.observables import ObservableType

FEEDS = Path(__file__).parents[2] / "data" / "feeds"


def _split(items: list[FeedEntry | RowProblem]) -> tuple[list[FeedEntry], list[RowProblem]]:
    entries = [i for i in items if isinstance(i, FeedEntry)]
    problems = [i for i in items if isinstance(i, RowProblem)]
    return entries, problems


def test_ipsum_whole_feed() -> None:
    data = (FEEDS / "ipsum" / "ipsum.txt").read_bytes()
    entries, problems = _split(list(read_list(data, PRESETS["ipsum"], "ipsum.txt")))
    assert problems == []
    assert len(entries) == 120_430
    first = entries[0]
    assert first == FeedEntry(ObservableType.IPV4, "77.90.185.20", 100, None, 8)
    assert entries[-1].value == "162.251.62.103"
    assert entries[-1].confidence == 10  # on one blacklist
    assert entries[-1].line == 120_437
    assert {e.type for e in entries} == {ObservableType.IPV4}
    confidences = Counter(e.confidence for e in entries)
    assert set(confidences) <= {10, 20, 30, 40, 50, 60, 70, 80, 90, 100}


def test_ipsum_bad_rows_are_located_and_the_rest_parses() -> None:
    text = "# header\n198.51.100.7\t3\n999.1.1.1\t2\n203.0.113.9\n203.0.113.10\tmany\n2001:db8::1\t1\n203.0.113.11\t4\n"
    entries, problems = _split(list(read_list(text, PRESETS["ipsum"], "ipsum.txt")))
    assert [(e.value, e.confidence, e.line) for e in entries] == [
        ("198.51.100.7", 30, 2),
        ("203.0.113.11", 40, 7),
    ]
    assert [str(p) for p in problems] == [
        "ipsum.txt:3: value: '999.1.1.1' is not a valid IPv4 address: octet 999 (> 255) not permitted",
        "ipsum.txt:4: columns: expected 2 columns separated by '\\t', got 1",
        "ipsum.txt:5: confidence: 'many' is not a number",
        "ipsum.txt:6: value: '2001:db8::1' is an IPv6 address; use type ipv6",
    ]
    assert problems[0].to_error().line == 3


def test_signature_base_c2_keeps_block_headings_and_scores() -> None:
    name = "c2-iocs.txt"
    with (FEEDS / "signature-base" / name).open(encoding="utf-8") as lines:
        entries, problems = _split(list(read_list(lines, preset_for_file(name), name)))
    assert problems == []
    kinds = Counter(e.type for e in entries)
    assert kinds[ObservableType.DOMAIN] > 1000
    assert kinds[ObservableType.IPV4] > 100
    by_value = {e.value: e for e in entries}
    # A line with no comment of its own gets its block's heading.
    assert by_value["suroot.com"].comment == "FireEye Operation Snowman https://goo.gl/x1v7mT"
    assert by_value["suroot.com"].line == 13
    assert by_value["58.64.143.244"].type is ObservableType.IPV4
    # "value;65" is a score, not a comment: the heading stays the comment.
    scored = by_value["176.123.5.126"]
    assert scored.confidence == 65
    assert scored.comment is not None and not scored.comment.isdigit()


def test_signature_base_hashes_mixed_lengths() -> None:
    name = "hash-iocs.txt"
    data = (FEEDS / "signature-base" / name).read_bytes()
    entries, problems = _split(list(read_list(data, preset_for_file(name), name)))
    assert problems == []
    kinds = Counter(e.type for e in entries)
    assert set(kinds) == {ObservableType.MD5, ObservableType.SHA1, ObservableType.SHA256}
    first = entries[0]
    assert first.value == "ce583821191345274cd954b2db7da9742c239fe413fc17dcb97ffdd7b51cb072"
    assert first.type is ObservableType.SHA256
    assert first.comment == "Dark Caracal - MS Windows HtmlHelp Data"
    assert first.line == 20


def test_signature_base_filename_regexes_are_refused_with_a_reason() -> None:
    with pytest.raises(InputError, match="regular expressions over paths") as caught:
        preset_for_file("filename-iocs.txt")
    assert caught.value.source == "filename-iocs.txt"


def test_plain_list_guesses_types_and_refangs() -> None:
    text = (
        "# my list\n"
        "Evil.Example.\n"
        "hxxp://bad[.]example/x\n"
        "198.51.100[.]7\n"
        "D41D8CD98F00B204E9800998ECF8427E\n"
        "mimikatz\n"
        "\n"
        "10.0.0.0/8\n"
    )
    entries, problems = _split(list(read_list(text, PRESETS["plain"], "list.txt")))
    assert [(e.type.value, e.value, e.line) for e in entries] == [
        ("domain", "evil.example", 2),
        ("url", "http://bad.example/x", 3),
        ("ipv4", "198.51.100.7", 4),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e", 5),
        ("cidr", "10.0.0.0/8", 8),
    ]
    assert [(p.line, p.field) for p in problems] == [(6, "value")]
    assert "cannot tell what kind" in problems[0].message


def test_csv_with_header_names_and_all_columns() -> None:
    mapping = ListMapping.model_validate(
        {
            "delimiter": ",",
            "header": True,
            "value_column": "indicator",
            "type": "domain",
            "confidence_column": "score",
            "score_min": 1,
            "score_max": 5,
            "comment_column": "note",
            "first_seen_column": "seen",
            "tags_column": "tags",
            "tags_separator": "|",
            "tags": ["feed:x"],
        }
    )
    text = (
        "# exported\n"
        "indicator,score,note,seen,tags\n"
        "Evil.example,5,c2 server,2026-01-02T03:04:05Z,apt|c2\n"
        "ok.example,1,,,\n"
        "bad.example,3,,yesterday,\n"
        "not a domain,3,,,\n"
    )
    entries, problems = _split(list(read_list(text, mapping, "x.csv")))
    assert entries == [
        FeedEntry(
            ObservableType.DOMAIN,
            "evil.example",
            100,
            "c2 server",
            3,
            "2026-01-02T03:04:05.000000Z",
            ("feed:x", "apt", "c2"),
        ),
        FeedEntry(ObservableType.DOMAIN, "ok.example", 0, None, 4, None, ("feed:x",)),
    ]
    assert [(p.line, p.field) for p in problems] == [(5, "first_seen"), (6, "value")]


def test_header_without_the_named_column_is_one_clear_error() -> None:
    mapping = ListMapping(delimiter=",", header=True, value_column="ioc")
    with pytest.raises(InputError) as caught:
        list(read_list("value,comment\nevil.example,x\n", mapping, "x.csv"))
    assert (
        str(caught.value) == "x.csv:1: header: column 'ioc' is not in the header (value, comment)"
    )
    with pytest.raises(InputError) as caught:
        list(read_list("# exported\n\nvalue,comment\n", mapping, "x.csv"))
    assert caught.value.line == 3
    assert list(read_list("# nothing yet\n", mapping, "x.csv")) == []


def test_mapping_validation() -> None:
    with pytest.raises(ValidationError, match="need a delimiter"):
        ListMapping(comment_column=1)
    with pytest.raises(ValidationError, match="need header"):
        ListMapping(delimiter=",", value_column="ioc")
    with pytest.raises(ValidationError):
        ListMapping.model_validate({"delimiter": ",", "colour": "red"})
    with pytest.raises(ValidationError):
        ListMapping.model_validate({"type": "ip-address"})
    assert mapping_from({"preset": "ipsum", "score_max": 5}).score_max == 5
    assert mapping_from({"delimiter": ";"}).delimiter == ";"
    with pytest.raises(InputError, match="unknown preset"):
        mapping_from({"preset": "nope"})


@given(st.text(), st.sampled_from(sorted(PRESETS)))
def test_arbitrary_text_never_raises(text: str, preset: str) -> None:
    for item in read_list(text, PRESETS[preset], "fuzz.txt"):
        if isinstance(item, FeedEntry):
            assert item.value == item.value.strip() and item.value
        else:
            assert item.source == "fuzz.txt" and item.line is not None


def test_quoted_csv_fields_and_a_byte_order_mark() -> None:
    mapping = ListMapping(delimiter=",", comment_column=1)
    data = '\ufeffevil.example,"c2, then a loader"\nbad.example,plain\n'.encode()
    entries, problems = _split(list(read_list(data, mapping, "x.csv")))
    assert problems == []
    assert [(e.value, e.comment, e.line) for e in entries] == [
        ("evil.example", "c2, then a loader", 1),
        ("bad.example", "plain", 2),
    ]


@given(st.text(alphabet=st.sampled_from('ab1.;,"\t\x00 #\n'), max_size=60), st.booleans())
def test_arbitrary_csv_with_quotes_and_columns_never_raises(text: str, header: bool) -> None:
    mapping = ListMapping(delimiter=";", value_column=2, comment_column=0, confidence_column=1)
    if header:  # columns by name: a header without them is the one error allowed
        mapping = ListMapping(delimiter=";", header=True, value_column="a", comment_column="b")
    try:
        for item in read_list(text, mapping, "fuzz.csv"):
            assert isinstance(item, FeedEntry | RowProblem)
    except InputError as exc:
        assert header and exc.field == "header"


_FRAGMENTS = [
    "[",
    "(",
    "{",
    "<",
    "h",
    "x",
    "X",
    "H",
    "f",
    "p",
    "meow",
    "\\",
    ".",
    " ",
    "d",
    "o",
    "t",
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join))
def test_the_defang_check_finds_what_a_scan_of_every_mark_finds(text: str) -> None:
    from steppe.ingest.intel.entries import _DEFANG_MARKS, looks_defanged

    assert looks_defanged(text) == any(mark in text for mark in _DEFANG_MARKS)
