"""Charts decode as PNGs of the right size with their series, thresholds and bars drawn."""

from __future__ import annotations

import math

from bot import charts
from bot.charts.bars import LIMIT_COLOUR, REQUEST_COLOUR
from bot.charts.style import LEVEL_COLOUR, PALETTE, tick
from bot.charts.timeline import KIND_COLOUR
from handlers.figures import Bar, BarChart, BarPanel, Line, LineChart, Mark, Series, TimelineChart, charts_in
from handlers.results import Group, Status, Text
from tests.pngcheck import has_colour, png_size_and_colours

T0 = 1_790_000_000.0


def series(name: str, base: float) -> Series:
    return Series(name, [(T0 + 15 * i, base + base * 0.5 * math.sin(i / 8)) for i in range(240)])


def test_a_line_chart_draws_its_series_and_thresholds_at_preview_size() -> None:
    chart = LineChart(
        title="backend error_rate",
        parts=[],
        series=[series('x{code="500"}', 0.03), series('x{code="503"}', 0.01)],
        unit="ratio",
        thresholds=[Line(0.02, "warn > 2%", Status.WARN), Line(0.05, "crit > 5%", Status.CRIT)],
    )
    (width, height), colours = png_size_and_colours(charts.render(chart))
    assert (width, height) == (800, 420)
    assert has_colour(colours, PALETTE[0])
    assert has_colour(colours, PALETTE[1])
    assert has_colour(colours, LEVEL_COLOUR[Status.WARN])
    assert has_colour(colours, LEVEL_COLOUR[Status.CRIT])
    assert not has_colour(colours, PALETTE[2])  # only two series


def test_units_on_the_axis() -> None:
    assert tick(0.05, "ratio") == "5%"
    assert tick(0.25, "seconds") == "250 ms"
    assert tick(512 * 2**20, "bytes") == "512 MB"
    assert tick(0, "bytes") == "0"


def test_bars_show_use_against_request_and_limit() -> None:
    chart = BarChart(
        title="Pod usage",
        columns=["NAME"],
        rows=[["backend-1"]],
        panels=[
            BarPanel("CPU", "cores", [Bar("backend-1", 0.4, 0.25, 0.5), Bar("backend-2", 0.1)]),
            BarPanel("Memory", "bytes", [Bar("backend-1", 300 * 2**20, 256 * 2**20, 512 * 2**20)]),
        ],
    )
    (width, _), colours = png_size_and_colours(charts.render(chart))
    assert width == 800
    assert has_colour(colours, PALETTE[0])
    assert has_colour(colours, REQUEST_COLOUR)
    assert has_colour(colours, LIMIT_COLOUR)


def test_the_incident_timeline_marks_each_moment_over_its_metrics() -> None:
    chart = TimelineChart(
        title="Incident #1: checkout errors",
        parts=[],
        marks=[
            Mark(T0 + 300, "detected", "detected"),
            Mark(T0 + 400, "declared", "declared P1"),
            Mark(T0 + 1200, "update", "rolled back"),
            Mark(T0 + 1800, "mitigated", "mitigated"),
            Mark(T0 + 3000, "resolved", "resolved"),
        ],
        metrics=[LineChart(title="error_rate", parts=[], series=[series("e", 0.04)], unit="ratio")],
    )
    (width, height), colours = png_size_and_colours(charts.render(chart))
    assert width == 800
    assert height > 420  # two panels
    for kind in ("detected", "declared", "update", "mitigated", "resolved"):
        assert has_colour(colours, KIND_COLOUR[kind]), kind


def test_charts_are_found_inside_results_and_named_for_upload() -> None:
    line = LineChart(title="CPU / memory (p95)!", parts=[], series=[])
    assert list(charts_in(Group(parts=[Text(text="x"), line]))) == [line]
    assert charts.filename(line) == "cpu-memory-p95.png"


def _pixels(png: bytes) -> bytes:
    import io

    import matplotlib.image

    return bytes(matplotlib.image.imread(io.BytesIO(png), format="png").tobytes())


def test_a_kept_figure_draws_the_next_chart_as_a_new_one_would() -> None:
    # Line charts are drawn on kept figures: nothing of the last chart may show in the next.
    from bot.charts import lines

    many = LineChart(
        title="memory",
        parts=[],
        series=[series(f'm{{pod="p{i}"}}', 2**30 * (i + 1)) for i in range(8)],
        unit="bytes",
        thresholds=[Line(6 * 2**30, "crit > 6 GB", Status.CRIT)],
    )
    other = LineChart(
        title="latency",
        parts=[],
        series=[series(f'l{{pod="q{i}"}}', 0.2 * (i + 1)) for i in range(7)],
        unit="seconds",
    )
    assert lines.legend_rows(many) == lines.legend_rows(other) == 3  # the same kept shape
    lines._POOL = lines._Pool()
    fresh = charts.render(other)
    charts.render(many)
    again = charts.render(other)  # on the figure `many` was just drawn on
    # Pixel for pixel: no line, threshold, legend entry, tick or limit of `many` is left.
    assert _pixels(again) == _pixels(fresh)
    assert _pixels(again) != _pixels(charts.render(many))


def test_without_mplcairo_charts_are_drawn_with_agg() -> None:
    # Platforms without an mplcairo wheel draw with matplotlib's own Agg canvas.
    import json
    import subprocess
    import sys

    script = (
        "import sys, json, math\n"
        "sys.modules['mplcairo'] = None\n"
        "from bot import charts\n"
        "from handlers.figures import LineChart, Series\n"
        "pts = [(1790000000.0 + 15 * i, 1 + math.sin(i / 8)) for i in range(240)]\n"
        "chart = LineChart(title='t', parts=[], series=[Series('a', pts), Series('b', pts[::2])])\n"
        "from bot.charts.style import canvas_of, figure\n"
        "sys.stdout.buffer.write(json.dumps(type(canvas_of(figure((1, 1)))).__module__).encode() + b'\\n')\n"
        "sys.stdout.buffer.write(charts.render(chart))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, check=True)
    module, _, png = done.stdout.partition(b"\n")
    assert json.loads(module) == "matplotlib.backends.backend_agg"
    (width, height), colours = png_size_and_colours(png)
    assert (width, height) == (800, 420)
    assert has_colour(colours, PALETTE[0])
    assert has_colour(colours, PALETTE[1])
