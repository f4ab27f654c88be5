"""The Telemetry page's own arithmetic: silent organisations, ages and sizes in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from steppe.lake.overview import OrganisationTelemetry, TelemetryOverview
from steppe.web.pages.telemetry import _age, _context, _size

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def org(
    organisation: int, last_event: datetime | None, per_day: tuple[int, ...]
) -> OrganisationTelemetry:
    return OrganisationTelemetry(
        organisation, per_day, sum(per_day), last_event, 2, 3, 4_500_000, 90
    )


def test_an_organisation_quiet_for_more_than_a_day_is_flagged_silent() -> None:
    overview = TelemetryOverview(
        (date(2026, 11, 27), date(2026, 11, 28)),
        (
            org(1, NOW - timedelta(minutes=5), (10, 20)),
            org(2, NOW - timedelta(days=2, hours=1), (7, 0)),
            org(3, None, (0, 0)),
        ),
        None,
    )
    context = _context(overview, {1: "KZ-CERT", 2: "KG-CERT", 3: "UZ-CERT"}, NOW, 2)
    rows = {row.name: row for row in context["rows"]}
    assert [name for name, row in rows.items() if row.silent] == ["KG-CERT", "UZ-CERT"]
    assert (rows["KZ-CERT"].age, rows["KG-CERT"].age, rows["UZ-CERT"].age) == (
        "5 min",
        "2 days",
        "never",
    )
    assert context["total"] == 37 and rows["KZ-CERT"].size == "4.5 MB"
    assert len({row.css for row in rows.values()}) == 3  # a colour each
    assert "KZ-CERT" in context["chart_svg"] and 'class="series-' in context["chart_svg"]


def test_ages_and_sizes_read_in_the_largest_whole_unit() -> None:
    assert [_age(timedelta(seconds=s)) for s in (30, 600, 7_200, 200_000)] == [
        "30 s",
        "10 min",
        "2 h",
        "2 days",
    ]
    assert "future" in _age(timedelta(seconds=-60))
    assert [_size(n) for n in (950, 12_345, 3_400_000, 25_000_000_000)] == [
        "950 B",
        "12 KB",
        "3.4 MB",
        "25 GB",
    ]
