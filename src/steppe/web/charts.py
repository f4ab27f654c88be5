"""SVG charts drawn on the server: no chart library in the browser, nothing from a CDN.

Each chart is a small accessible ``<svg role="img">`` with a title and a ``<title>`` on
every mark (the browser shows it on hover and screen readers read it); the page shows
the same figures as a table beside it. Colours come from CSS classes (``sev-high`` …),
so the Content-Security-Policy can refuse inline styles.

    >>> svg = stacked_bars([("2026-11-27", {"high": 2, "low": 1})], ("low", "high"), "Alerts")
    >>> svg.startswith('<svg') and 'role="img"' in svg
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["SERIES_CLASSES", "compact", "stacked_bars"]

#: CSS classes of the palette for layers that are not severities (steppe.css: series-N).
SERIES_CLASSES = tuple(f"series-{n}" for n in range(12))


def compact(value: int) -> str:
    """An axis figure in few characters: 950, 12k, 1.2M.

    >>> [compact(v) for v in (950, 12_000, 1_250_000, 30_000_000)]
    ['950', '12k', '1.2M', '30M']
    """
    if value < 10_000:
        return str(value)
    if value < 1_000_000:
        return f"{value // 1000}k"
    millions = value / 1_000_000
    return f"{millions:.1f}M" if millions < 10 else f"{millions:.0f}M"


_WIDTH = 720
_HEIGHT = 220
_LEFT = 36  # room for the y-axis labels
_BOTTOM = 28  # room for the x-axis labels
_TOP = 8


def _nice_max(value: int) -> int:
    """The smallest 1/2/5 × 10ⁿ at or above ``value`` (at least 1): round axis ticks."""
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def stacked_bars(
    series: Sequence[tuple[str, dict[str, int]]],
    layers: Sequence[str],
    title: str,
    *,
    classes: Mapping[str, str] | None = None,
) -> str:
    """Bars of ``series`` (label, counts per layer), layers stacked bottom-up in order;
    each layer drawn with CSS class ``sev-<layer>``, or ``classes[layer]`` if given."""
    n = max(len(series), 1)
    plot_w = _WIDTH - _LEFT - 4
    plot_h = _HEIGHT - _TOP - _BOTTOM
    top = _nice_max(max((sum(c.get(k, 0) for k in layers) for _, c in series), default=0))
    slot = plot_w / n
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = _TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{compact(tick)}</text>"
        )
    every = max(1, n // 8)  # at most ~8 x labels
    for i, (label, counts) in enumerate(series):
        x = _LEFT + i * slot + (slot - bar) / 2
        y = _TOP + plot_h
        for layer in layers:
            value = counts.get(layer, 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            css = classes[layer] if classes is not None else f"sev-{layer}"
            parts.append(
                f'<rect class="{escape(css)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}"><title>{escape(label)}: {value} '
                f"{escape(layer)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{_HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label[5:] if len(label) == 10 else label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
