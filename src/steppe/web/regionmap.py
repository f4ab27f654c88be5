"""The region's map: country shapes from a package's data, shaded by alert counts.

The shapes are the world map that ships in the ``pygal_maps_world`` wheel (an SVG with
one ``<g class="kz country …">`` per ISO 3166-1 country): read from the installed
package, so the map needs no tiles and no internet. The view is cropped to the
bounding box of the coalition's countries (with a margin), neighbours drawn in grey
for context; each member's country is shaded by its alert count and links to its
alerts.

The shapes themselves are not in the page: :func:`world_shapes` is one SVG document of
every country (``/map/world.svg``, cached by the browser for a week), and the page's
map only places them with ``<use href="/map/world.svg?v=…#KZ">`` — the coordinator's
map went from ~400 kB of paths in every dashboard to a few kB. Colours are inherited
from the ``<g>`` around each ``<use>``, since page CSS cannot reach inside the shapes.

    >>> svg = region_map({"KZ": 4, "UZ": 1}, {"KZ": "KZ-CERT: 4 alerts", "UZ": "UZ-CERT: 1 alert"})
    >>> 'class="country shade-4"' in svg and "KZ-CERT: 4 alerts" in svg
    True
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from functools import cache
from html import escape
from importlib import resources

__all__ = ["SHAPES_PATH", "region_map", "world_shapes"]

#: Where the app serves :func:`world_shapes`; the version changes when the shapes do.
SHAPES_PATH = "/map/world.svg"

_SVG_NS = "{http://www.w3.org/2000/svg}"
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# Numbers each path command takes per repetition, and which of them are x/y positions.
_ARITY = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}


@cache
def _world() -> dict[str, tuple[str, ...]]:
    """Country code (upper case) → the ``d`` of each of its paths."""
    source = resources.files("pygal_maps_world").joinpath("worldmap.svg").read_text()
    shapes: dict[str, tuple[str, ...]] = {}
    for group in ET.fromstring(source).iter(f"{_SVG_NS}g"):
        classes = group.get("class", "").split()
        if "country" not in classes or not classes:
            continue
        paths = tuple(p.get("d", "") for p in group.iter(f"{_SVG_NS}path"))
        shapes[classes[0].upper()] = paths
    return shapes


@cache
def world_shapes() -> bytes:
    """An SVG document with one ``<g id="KZ">`` (ISO code) of paths per country."""
    parts = ['<svg xmlns="http://www.w3.org/2000/svg">']
    for code, paths in _world().items():
        parts.append(f'<g id="{code}">' + "".join(f'<path d="{d}"/>' for d in paths) + "</g>")
    parts.append("</svg>")
    return "".join(parts).encode()


@cache
def shapes_version() -> str:
    """A short hash of the shapes, so a new package version is fetched anew."""
    return hashlib.sha256(world_shapes()).hexdigest()[:12]


def _use(code: str) -> str:
    return f'<use href="{SHAPES_PATH}?v={shapes_version()}#{code}"/>'


def _points(d: str) -> list[tuple[float, float]]:
    """The end points (and control points: a slight over-estimate is fine for a bounding
    box) of an SVG path, made absolute."""
    points: list[tuple[float, float]] = []
    x = y = 0.0
    start = (0.0, 0.0)
    command = ""
    numbers: list[float] = []

    def flush() -> None:
        nonlocal x, y, start, command
        if not command:
            return
        lower = command.lower()
        relative = command.islower()
        arity = _ARITY[lower]
        if arity == 0:
            x, y = start
            return
        for i in range(0, len(numbers) - arity + 1, arity):
            chunk = numbers[i : i + arity]
            if lower == "h":
                x = x + chunk[0] if relative else chunk[0]
            elif lower == "v":
                y = y + chunk[0] if relative else chunk[0]
            elif lower == "a":
                x, y = (x + chunk[5], y + chunk[6]) if relative else (chunk[5], chunk[6])
            else:
                base_x, base_y = (x, y) if relative else (0.0, 0.0)
                for j in range(0, arity, 2):
                    points.append((base_x + chunk[j], base_y + chunk[j + 1]))
                x, y = base_x + chunk[-2], base_y + chunk[-1]
            points.append((x, y))
            if lower == "m" and i == 0:
                start = (x, y)
                command = "l" if relative else "L"  # later pairs of a moveto are linetos

    for token in _TOKEN.findall(d):
        if token.isalpha():
            flush()
            command, numbers = token, []
        else:
            numbers.append(float(token))
    flush()
    return points


@cache
def _bounds(codes: tuple[str, ...]) -> tuple[float, float, float, float]:
    world = _world()
    xs: list[float] = []
    ys: list[float] = []
    for code in codes:
        for d in world.get(code, ()):
            for px, py in _points(d):
                xs.append(px)
                ys.append(py)
    if not xs:
        return (0.0, 0.0, 2475.0, 1388.0)  # the whole world map
    return (min(xs), min(ys), max(xs), max(ys))


def _shade(count: int, top: int) -> int:
    """0 (no alerts) … 4 (the most), in steps of the busiest member's count."""
    if count <= 0 or top <= 0:
        return 0
    return min(4, 1 + (4 * count - 1) // top)


def region_map(
    counts: dict[str, int],
    labels: dict[str, str],
    *,
    links: dict[str, str] | None = None,
    title: str = "Alerts by member",
) -> str:
    """An SVG map of the members' countries (``labels``' keys), shaded by ``counts``."""
    members = tuple(sorted(c.upper() for c in labels))
    x0, y0, x1, y1 = _bounds(members)
    margin = max(x1 - x0, y1 - y0) * 0.08 + 10
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    top = max(counts.values(), default=0)
    parts = [
        f'<svg class="region-map" viewBox="{x0:.0f} {y0:.0f} {x1 - x0:.0f} {y1 - y0:.0f}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    world = _world()
    for code in world:
        if code in labels:
            continue
        cx0, cy0, cx1, cy1 = _bounds((code,))
        if cx1 < x0 or cx0 > x1 or cy1 < y0 or cy0 > y1:
            continue  # outside the view: not sent
        parts.append(f'<g class="land">{_use(code)}</g>')
    for code in members:
        shade = _shade(counts.get(code, 0), top)
        body = f"<title>{escape(labels[code])}</title>" + (_use(code) if code in world else "")
        group = f'<g class="country shade-{shade}">{body}</g>'
        href = (links or {}).get(code)
        if href:
            group = f'<a href="{escape(href)}" aria-label="{escape(labels[code])}">{group}</a>'
        parts.append(group)
    parts.append("</svg>")
    return "".join(parts)
