"""Inline SVG charts for the report — pure functions from numbers to markup.

No JavaScript and nothing downloaded: the report is one self-contained HTML file. Values arrive
as Decimals (the report's exact figures); they become floats only for pixel positions, and every
printed label is formatted from the Decimal itself. Text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

FONT = "font-family=\"'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif\""
COLORS = ("#2f6fad", "#e8a33d", "#d9534f", "#7b3f9e", "#3c3c3c", "#5cb85c")


def nice_step(span: Decimal, ticks: int = 5) -> Decimal:
    """A 1-2-5 step that cuts ``span`` into about ``ticks`` intervals."""
    if span <= 0:
        return Decimal(1)
    raw = span / ticks
    magnitude = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, 5, 10):
        if raw <= magnitude * factor:
            return magnitude * factor
    return magnitude * 10


def _ticks(top: Decimal, ticks: int = 5) -> list[Decimal]:
    step = nice_step(top, ticks)
    values, value = [Decimal(0)], Decimal(0)
    while value < top:
        value += step
        values.append(value)
    return values


def _number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _text(
    x: float, y: float, label: str, anchor: str = "middle", size: int = 12, **extra: str
) -> str:
    attributes = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" {FONT} '
        f"{attributes}>{escape(label)}</text>"
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    color: str = COLORS[0]
    sublabel: str = ""  # a second, smaller line under the label (the English name)


def bar_chart(
    bars: Sequence[Bar], title: str, y_label: str, width: int = 520, height: int = 320
) -> Markup:
    """Vertical bars with a value on each, category labels under the x axis, a ticked y axis."""
    left, right, top, bottom = 70, 20, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = _ticks(max([b.value for b in bars] + [Decimal(1)]))
    y_max = ticks[-1]

    def y(value: Decimal) -> float:
        return top + plot_h - float(value / y_max) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        _text(width / 2, 22, title, size=15, font_weight="bold"),
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" '
            'stroke="#e3e3e3"/>'
        )
        parts.append(_text(left - 8, y(tick) + 4, _number(tick), anchor="end", size=11))
    slot = plot_w / max(1, len(bars))
    for index, bar in enumerate(bars):
        x = left + slot * index + slot * 0.15
        bar_top = y(bar.value)
        parts.append(
            f'<rect x="{x:.1f}" y="{bar_top:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{top + plot_h - bar_top:.1f}" fill="{bar.color}">'
            f"<title>{escape(bar.label)}: {escape(_number(bar.value))}</title></rect>"
        )
        parts.append(_text(x + slot * 0.35, bar_top - 5, _number(bar.value), size=11))
        parts.append(_text(x + slot * 0.35, top + plot_h + 18, bar.label, size=12))
        if bar.sublabel:
            parts.append(
                _text(x + slot * 0.35, top + plot_h + 33, bar.sublabel, size=10, fill="#555")
            )
    parts += [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        _text(
            16, top + plot_h / 2, y_label, size=12, transform=f"rotate(-90 16 {top + plot_h / 2})"
        ),
        "</svg>",
    ]
    return Markup("\n".join(parts))


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]
    color: str
    axis: str = "left"  # left | right


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    left_label: str,
    right_label: str = "",
    x_label: str = "",
    width: int = 1040,
    height: int = 360,
) -> Markup:
    """Lines over a shared x axis (dates), with a left and an optional right y axis."""
    left, right, top, bottom = 80, 80 if right_label else 20, 40, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(x_labels)
    axes: dict[str, list[Decimal]] = {}
    for side in ("left", "right"):
        values = [v for s in series if s.axis == side for v in s.values]
        axes[side] = _ticks(max([*values, Decimal("0.0001")]))

    def x(index: int) -> float:
        return left + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: Decimal, side: str) -> float:
        return top + plot_h - float(value / axes[side][-1]) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        _text(width / 2, 22, title, size=15, font_weight="bold"),
    ]
    for tick in axes["left"]:
        parts.append(
            f'<line x1="{left}" y1="{y(tick, "left"):.1f}" x2="{left + plot_w}" '
            f'y2="{y(tick, "left"):.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(_text(left - 8, y(tick, "left") + 4, _number(tick), anchor="end", size=11))
    if right_label:
        for tick in axes["right"]:
            parts.append(
                _text(
                    left + plot_w + 8, y(tick, "right") + 4, _number(tick), anchor="start", size=11
                )
            )
    step = max(1, (count + 7) // 8)
    for index in range(0, count, step):
        parts.append(
            f'<line x1="{x(index):.1f}" y1="{top + plot_h}" x2="{x(index):.1f}" '
            f'y2="{top + plot_h + 5}" stroke="#333"/>'
        )
        parts.append(_text(x(index), top + plot_h + 19, x_labels[index], size=11))
    for line in series:
        points = " ".join(f"{x(i):.1f},{y(v, line.axis):.1f}" for i, v in enumerate(line.values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{line.color}" stroke-width="2">'
            f"<title>{escape(line.name)}</title></polyline>"
        )
    parts += [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        _text(
            18,
            top + plot_h / 2,
            left_label,
            size=12,
            transform=f"rotate(-90 18 {top + plot_h / 2})",
        ),
    ]
    if right_label:
        edge = left + plot_w
        parts.append(
            f'<line x1="{edge}" y1="{top}" x2="{edge}" y2="{top + plot_h}" stroke="#333"/>'
        )
        parts.append(
            _text(
                width - 14,
                top + plot_h / 2,
                right_label,
                size=12,
                transform=f"rotate(90 {width - 14} {top + plot_h / 2})",
            )
        )
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 28, x_label, size=12))
    legend_x = left
    for line in series:
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="14" height="4" fill="{line.color}"/>'
        )
        parts.append(_text(legend_x + 20, height - 9, line.name, anchor="start", size=12))
        legend_x += 30 + 8 * len(line.name)
    parts.append("</svg>")
    return Markup("\n".join(parts))
