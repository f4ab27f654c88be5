"""The dashboard's SVG: the stacked bar chart and the region map."""

from __future__ import annotations

import doctest
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from steppe.web import charts, regionmap
from steppe.web.charts import stacked_bars
from steppe.web.regionmap import SHAPES_PATH, region_map, world_shapes


@pytest.mark.parametrize("module", [charts, regionmap])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_bars_are_as_tall_as_their_counts_and_titled() -> None:
    svg = stacked_bars(
        [("2026-11-27", {"low": 1, "high": 3}), ("2026-11-28", {"low": 4})], ("low", "high"), "t"
    )
    root = ET.fromstring(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    heights = {
        r.findtext("{http://www.w3.org/2000/svg}title"): float(r.get("height", 0)) for r in rects
    }
    assert heights["2026-11-27: 3 high"] == pytest.approx(3 * heights["2026-11-27: 1 low"])
    assert heights["2026-11-28: 4 low"] == pytest.approx(4 * heights["2026-11-27: 1 low"])


def test_a_chart_of_nothing_still_draws() -> None:
    root = ET.fromstring(stacked_bars([("2026-11-28", {})], ("low",), "empty"))
    assert root.findall("{http://www.w3.org/2000/svg}rect") == []


def test_the_map_frames_the_members_and_shades_by_count() -> None:
    svg = region_map({"KZ": 10, "KG": 1}, {"KZ": "KZ-CERT", "KG": "KG-CERT", "UZ": "UZ-CERT"})
    root = ET.fromstring(svg)
    _x, _y, width, height = (float(v) for v in root.get("viewBox", "").split())
    assert 0 < width < 600 and 0 < height < 600  # Central Asia, not the whole world (2475)
    shades = {
        g.findtext("{http://www.w3.org/2000/svg}title"): g.get("class")
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "country" in (g.get("class") or "")
    }
    assert shades == {
        "KZ-CERT": "country shade-4",
        "KG-CERT": "country shade-1",
        "UZ-CERT": "country shade-0",
    }


def test_member_countries_link_to_their_alerts() -> None:
    svg = region_map({"KZ": 2}, {"KZ": "KZ-CERT: 2 alerts"}, links={"KZ": "/alerts?organisation=3"})
    assert '<a href="/alerts?organisation=3" aria-label="KZ-CERT: 2 alerts">' in svg


def test_the_map_places_shared_shapes_instead_of_carrying_them() -> None:
    members = {c: f"{c}-CERT" for c in ("KZ", "KG", "UZ", "TJ", "RU", "BY", "AM", "CN", "IN", "BR")}
    svg = region_map({"KZ": 1}, members)
    shapes = ET.fromstring(world_shapes())
    ids = {g.get("id") for g in shapes.iter("{http://www.w3.org/2000/svg}g")}
    used = [u.get("href", "") for u in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}use")]
    assert {"KZ", "BR", "FR"} <= ids
    assert all(u.startswith(f"{SHAPES_PATH}?v=") for u in used)
    assert set(members) <= {u.rsplit("#", 1)[1] for u in used}  # every member is drawn
    assert {u.rsplit("#", 1)[1] for u in used} <= ids  # and only shapes that exist
    assert len(svg) < 20_000 < len(world_shapes())  # the page carries references only


def test_the_shapes_are_served_for_caching(web: TestClient) -> None:
    answer = web.get(SHAPES_PATH)  # no session needed: public geography
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert "immutable" in answer.headers["cache-control"]
    assert answer.content == world_shapes()
