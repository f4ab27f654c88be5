"""The columnar matcher finds exactly what the row matcher finds, for every organisation."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc_pools import (
    INDICATORS,
    POOLS,
    PRODUCER,
    comparable_hits,
    group_only_index,
    indicator_ref,
)
from steppe.detection.ioc.audience import bit
from steppe.detection.ioc.columnar import MATCHED_FIELDS, ColumnarMatcher, read_json_lines
from steppe.detection.ioc.index import IocIndex
from steppe.detection.ioc.matcher import IocMatcher

NOW = "2026-06-01T00:00:00.000000Z"
PAST, FUTURE = "2026-05-01T00:00:00.000000Z", "2026-07-01T00:00:00.000000Z"
KZ, KG, UZ = PRODUCER, 3, 4  # the pools' indicators are KZ-CERT's
ORGS = (KZ, KG, UZ)
SCHEMA = pa.schema([(name, pa.string()) for name in MATCHED_FIELDS])


def _same_hits(index: IocIndex, events: list[dict[str, str | None]]) -> None:
    table = pa.Table.from_pylist(events, schema=SCHEMA)
    # The same rows as one record batch and as a table of several chunks.
    shapes = [table, pa.Table.from_batches(table.to_batches(max_chunksize=4), SCHEMA)]
    if table.num_rows:
        shapes.append(table.combine_chunks().to_batches()[0])
    rows = IocMatcher(index)
    columns = ColumnarMatcher(index, threads=2)
    for org in ORGS:
        expected = comparable_hits(rows.match_events(table.to_pylist(), org, NOW))
        for data in shapes:
            assert comparable_hits(columns.match_table(data, org, NOW)) == expected


indicators = st.lists(
    st.tuples(
        st.sampled_from(INDICATORS),
        st.sets(st.sampled_from(ORGS)),  # audience
        st.sampled_from([None, None, PAST, FUTURE]),  # valid_until
        st.booleans(),  # revoked after being added
    ),
    max_size=25,
)
events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={field: st.sampled_from([*pool, None]) for field, pool in POOLS.items()},
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(indicators, events)
def test_columnar_hits_equal_row_hits(
    entries: list[tuple[tuple[str, str], set[int], str | None, bool]],
    generated: list[dict[str, str | None]],
) -> None:
    index = IocIndex()
    for pk, ((kind, value), audience, valid_until, revoked) in enumerate(entries, 1):
        index.add(indicator_ref(pk, valid_until), [(kind, value)], audience=sum(map(bit, audience)))
        if revoked:
            index.remove(pk)
    _same_hits(index, generated)


def test_every_pool_value_against_every_indicator() -> None:
    """Each test value alone in each field, against all indicators visible to all."""
    index = IocIndex()
    for pk, (kind, value) in enumerate(INDICATORS, 1):
        index.add(indicator_ref(pk), [(kind, value)], audience=bit(KZ) | bit(KG))
    rows = [{field: value} for field, pool in POOLS.items() for value in pool]
    _same_hits(index, rows)
    found = ColumnarMatcher(index).match_table(pa.Table.from_pylist(rows, SCHEMA), KZ, NOW)
    assert len(found) > 40  # the pools do hit


def test_a_member_outside_the_group_gets_nothing_from_a_group_only_indicator() -> None:
    index = group_only_index(KZ, KG, UZ)
    table = pa.Table.from_pylist(
        [{"dns.question.name": "a.evil.example"}, {"destination.ip": "10.9.8.7"}], SCHEMA
    )
    matcher = ColumnarMatcher(index)
    assert len(matcher.match_table(table, KG, NOW)) == 2  # in the group
    assert matcher.match_table(table, UZ, NOW) == []  # outside it: no hit
    assert len(matcher.candidates(table, UZ)) == 0  # … and not even a candidate row


def test_revoked_and_expired_stop_matching_and_new_ones_start_without_a_new_matcher() -> None:
    index = IocIndex()
    index.add(indicator_ref(1), [("ipv4", "192.0.2.1")], audience=bit(KZ))
    index.add(indicator_ref(2, valid_until=NOW), [("domain", "evil.example")], audience=bit(KZ))
    matcher = ColumnarMatcher(index)
    table = pa.Table.from_pylist(
        [{"source.ip": "192.0.2.1"}, {"dns.question.name": "evil.example"},
         {"file.hash.md5": "d41d8cd98f00b204e9800998ecf8427e"}], SCHEMA,
    )  # fmt: skip
    assert [e["source.ip"] for e, _ in matcher.match_table(table, KZ, NOW)] == ["192.0.2.1"]
    index.remove(1)
    index.add(indicator_ref(3), [("md5", "d41d8cd98f00b204e9800998ecf8427e")], audience=bit(KZ))
    found = matcher.match_table(table, KZ, NOW)
    assert [h.hit.indicator.pk for _, hits in found for h in hits] == [3]


def test_columns_that_cannot_hold_strings_and_missing_fields_are_skipped() -> None:
    index = IocIndex()
    index.add(indicator_ref(1), [("ipv4", "192.0.2.1")], audience=bit(KZ))
    table = pa.table(
        {
            "source.ip": pa.array([1, 2], pa.int64()),
            "destination.ip": pa.array(["192.0.2.1", None]).dictionary_encode(),
            "url.full": pa.array(["http://x.test/", None], pa.large_string()),
        }
    )
    found = ColumnarMatcher(index).match_table(table, KZ, NOW)
    assert [(e["destination.ip"], len(h)) for e, h in found] == [("192.0.2.1", 1)]


def test_read_json_lines_keeps_every_field_for_the_evidence(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        {"@timestamp": "2026-05-31T10:00:00Z", "destination.ip": "10.1.2.3", "bytes": 10},
        {"@timestamp": "2026-05-31T10:00:01Z", "dns.question.name": "a.b.evil.example"},
        {"@timestamp": "2026-05-31T10:00:02Z", "dns.question.name": "benign.test"},
    ]
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    index = IocIndex()
    index.add(indicator_ref(1), [("cidr", "10.1.2.0/30")], audience=bit(KZ))
    index.add(indicator_ref(2), [("domain", "evil.example")], audience=bit(KZ))
    found = ColumnarMatcher(index).match_table(read_json_lines(path), KZ, NOW)
    assert [(e["bytes"], [h.hit.value for h in hits]) for e, hits in found] == [
        (10, ["10.1.2.0/30"]),
        (None, ["evil.example"]),
    ]
