"""A report's chart as a reportlab drawing (bar or line), every label in the CJK font.

The drawing's strings are text in the PDF, so `pdftotext` reads the title, the categories and the
legend back. Values are drawn as the chart gives them, except a chart in % whose values are ratios
like a percent column's (0.953 is drawn as 95.3); the unit is written above the axis.
"""

from __future__ import annotations

import math

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from .shape import ChartLike

PALETTE = (
    colors.HexColor("#2f6fb0"),
    colors.HexColor("#e07b39"),
    colors.HexColor("#3a9d5d"),
    colors.HexColor("#b03a48"),
    colors.HexColor("#7d5ba6"),
    colors.HexColor("#8c8c8c"),
)
HEIGHT = 210.0
LABEL_SIZE = 7
VALUE_LABELS = 24  # bars up to this many get their value written on top


def drawing(chart: ChartLike, font: str, width: float) -> Drawing:
    d = Drawing(width, HEIGHT, initialFontName=font)  # else its state names Helvetica (unembedded)
    names = list(chart.series)
    plot = _bars(chart, font) if chart.type == "bar" else _lines(chart)
    plot.x, plot.y = 42, 30
    plot.width = width - plot.x - 8
    plot.height = HEIGHT - plot.y - (48 if len(names) > 1 else 30)
    scale = 100.0 if chart.unit == "%" else 1.0
    plot.data = [tuple(None if v is None else v * scale for v in chart.series[n]) for n in names]
    _axes(plot, chart, font)
    d.add(plot)
    d.add(String(0, HEIGHT - 12, chart.title, fontName=font, fontSize=10))
    if chart.unit:
        d.add(String(0, plot.y + plot.height + 6, f"单位：{chart.unit}", fontName=font, fontSize=7))
    if len(names) > 1:
        d.add(_legend(names, font, width))
    return d


def _bars(chart: ChartLike, font: str) -> VerticalBarChart:
    bars = VerticalBarChart()
    bars.groupSpacing = 6
    bars.barSpacing = 1
    for i in range(len(chart.series)):
        bars.bars[i].fillColor = PALETTE[i % len(PALETTE)]
        bars.bars[i].strokeColor = None
    if len(chart.x) * len(chart.series) <= VALUE_LABELS:
        bars.barLabelFormat = _value
        bars.barLabels.fontName, bars.barLabels.fontSize = font, 6
        bars.barLabels.nudge = 5
    return bars


def _lines(chart: ChartLike) -> HorizontalLineChart:
    lines = HorizontalLineChart()
    lines.joinedLines = 1
    for i in range(len(chart.series)):
        lines.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
        lines.lines[i].strokeWidth = 1.5
        # A None has no point: the line joins across it, so the markers show where values are.
        lines.lines[i].symbol = makeMarker("FilledCircle", size=3.5, fillColor=PALETTE[i % len(PALETTE)])
    return lines


def _axes(plot: VerticalBarChart | HorizontalLineChart, chart: ChartLike, font: str) -> None:
    # Level labels, every n-th where they would touch (a month's days): n from the widest label.
    widest = max((stringWidth(x, font, LABEL_SIZE) for x in chart.x), default=0.0) + 6
    step = max(1, math.ceil(widest / (plot.width / max(1, len(chart.x)))))
    plot.categoryAxis.categoryNames = [x if i % step == 0 else "" for i, x in enumerate(chart.x)]
    for labels in (plot.categoryAxis.labels, plot.valueAxis.labels):
        labels.fontName, labels.fontSize = font, LABEL_SIZE
    plot.valueAxis.labelTextFormat = _value
    values = [v for s in plot.data for v in s if v is not None]
    plot.valueAxis.valueMin = min(0.0, *values) if values else 0.0
    if not values or max(values) <= plot.valueAxis.valueMin:
        plot.valueAxis.valueMax = plot.valueAxis.valueMin + 1  # an all-zero chart still has an axis


def _legend(names: list[str], font: str, width: float) -> Legend:
    legend = Legend()
    legend.fontName, legend.fontSize = font, 7
    legend.x, legend.y = width - 8, HEIGHT - 4
    legend.alignment = "right"
    legend.boxAnchor = "ne"
    legend.columnMaximum = 1
    legend.deltax = 70
    legend.dx = legend.dy = 7
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], n) for i, n in enumerate(names)]
    return legend


def _value(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
