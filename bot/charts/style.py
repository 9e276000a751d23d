"""Shared look of every chart: sizes that read at Slack's preview width, units on axes, UTC.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly (never pyplot):
no display, no global state, safe from the handler threads.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from handlers.figures import Unit
from handlers.humanize import size
from handlers.results import Status

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# tab10: distinct, colour-blind-friendlier than the rainbow, and what people know from Grafana.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LEVEL_COLOUR = {Status.OK: "#2ca02c", Status.WARN: "#e6a700", Status.CRIT: "#d62728"}
DPI = 100
WIDE = (8.0, 4.2)  # inches: 800 × 420 px, legible when Slack shows it ~360 px wide
SMALL = (6.0, 2.8)
FONT = 11


def figure(size_in: tuple[float, float], *, constrained: bool = True) -> Figure:
    """A white figure; `constrained=False` for charts that place their margins themselves
    (constrained layout costs an extra full draw per PNG, which the hot /prom charts skip)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=DPI, layout="constrained" if constrained else None)
    fig.set_facecolor("white")
    return fig


def style_axes(ax: Any) -> None:
    ax.grid(True, which="major", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT - 1)


def axis_label(unit: Unit) -> str:
    return {
        "ratio": "%",
        "percent": "%",
        "seconds": "seconds",
        "bytes": "bytes",
        "cores": "CPU cores",
    }.get(unit, "")


def tick(value: float, unit: Unit) -> str:
    """An axis tick in the unit: `5%`, `250 ms`, `1.5 s`, `512 MB`, `0.25`."""
    if math.isnan(value):
        return ""
    if value == 0:
        return "0"
    if unit in ("ratio", "percent"):
        pct = value * 100 if unit == "ratio" else value
        return f"{pct:.3g}%"
    if unit == "seconds":
        return f"{value * 1000:.3g} ms" if 0 < abs(value) < 1 else f"{value:.3g} s"
    if unit == "bytes":
        return size(value).replace(".0 ", " ")
    if abs(value) >= 1e6 or (0 < abs(value) < 1e-3):
        return f"{value:.2g}"
    return f"{value:.4g}"


def unit_axis(ax: Any, unit: Unit, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    if unit == "bytes":
        # Ticks on round MB / GB: nice numbers in the power of 1024 that fits the axis.
        low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
        scale = 1.0
        while high / scale >= 1024 and scale < 1024.0**4:
            scale *= 1024
        ticks = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 4, 5, 8, 10]).tick_values(low / scale, high / scale)
        target.set_ticks([t * scale for t in ticks if low / scale <= t <= high / scale])
    target.set_major_formatter(FuncFormatter(lambda v, _pos: tick(v, unit)))
    label = axis_label(unit)
    if label:
        (ax.set_ylabel if axis == "y" else ax.set_xlabel)(label, fontsize=FONT)


def canvas_of(fig: Figure) -> Any:
    """The canvas a figure is drawn on: mplcairo's where it is installed (its text goes through
    cairo's glyph cache: a 10-series chart draws in about two thirds of Agg's time), else Agg."""
    try:
        from mplcairo.base import FigureCanvasCairo as Canvas
    except ImportError:  # no wheel for this platform: matplotlib's own Agg
        from matplotlib.backends.backend_agg import FigureCanvasAgg as Canvas
    return Canvas(fig)


def png(fig: Figure) -> bytes:
    return encode(canvas_of(fig))


def encode(canvas: Any) -> bytes:
    """One draw, then the pixels as an RGB PNG at zlib level 1: a chart on a white ground needs
    no alpha channel, and level 1 encodes in half the time of savefig's level 6 for a file
    about as large (anti-aliased lines compress poorly at any level)."""
    import numpy as np
    from PIL import Image

    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    buf = io.BytesIO()
    Image.fromarray(pixels[:, :, :3]).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def short_names(names: Sequence[str], limit: int = 60) -> list[str]:
    """Legend labels: drop the metric name and the labels every series shares."""
    parsed = [_labels(n) for n in names]
    common = set.intersection(*(set(p.items()) for p in parsed)) if len(parsed) > 1 else set()
    out = []
    for name, labels in zip(names, parsed, strict=True):
        if not labels:
            out.append(_cut(name or "{}", limit))
            continue
        rest = [f"{k}={v}" for k, v in labels.items() if (k, v) not in common]
        out.append(_cut(", ".join(rest) if rest else name, limit))
    return out


def _labels(name: str) -> dict[str, str]:
    if "{" not in name or not name.endswith("}"):
        return {}
    inner = name[name.index("{") + 1 : -1]
    out: dict[str, str] = {}
    for part in inner.split('", '):
        key, eq, value = part.partition('="')
        if eq:
            out[key.strip()] = value.rstrip('"')
    return out


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
