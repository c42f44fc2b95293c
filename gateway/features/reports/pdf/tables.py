"""A report's tables as reportlab tables: headings repeated on every page a table runs over,
numbers right-aligned, units in the heading (tables) or beside the value (the figures)."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from . import cells
from .shape import Cell, ColumnLike, FigureLike, TableLike

HEAD_BG = colors.HexColor("#e8eef5")
RULE = colors.HexColor("#9aa7b4")
GREY = colors.HexColor("#666666")
TEXT_WEIGHT = 2.2  # a text column is this many times as wide as a number column


class Styles:
    def __init__(self, font: str, size: float = 8.5) -> None:
        base = {"fontName": font, "fontSize": size, "leading": size * 1.3, "wordWrap": "CJK"}
        self.font, self.size = font, size
        self.head = ParagraphStyle("head", **base)
        self.text = ParagraphStyle("text", **base)
        self.number = ParagraphStyle("number", **base, alignment=TA_RIGHT)
        self.missing = ParagraphStyle("missing", **{**base, "fontSize": size - 1.5}, textColor=GREY, alignment=TA_RIGHT)
        self.absent = ParagraphStyle("absent", parent=self.missing, alignment=TA_LEFT)  # across a row
        self.formula = ParagraphStyle("formula", **{**base, "fontSize": size - 2, "leading": size}, textColor=GREY)


def escape(text: str) -> str:
    """Text for a Paragraph, which reads its input as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _grid(
    data: list[list[object]], widths: list[float], numeric: Sequence[bool], st: Styles, spans: Sequence[int] = ()
) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1, splitByRow=1, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), st.font),
        ("FONTSIZE", (0, 0), (-1, -1), st.size),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),  # a value on the line of its label's first line
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, RULE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, RULE),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, RULE),
        ("LINEBELOW", (0, 1), (-1, -2), 0.25, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    style += [("ALIGN", (i, 0), (i, -1), "RIGHT") for i, n in enumerate(numeric) if n]
    style += [("SPAN", (1, r), (-1, r)) for r in spans]
    table.setStyle(TableStyle(style))
    return table


def _widths(numeric: Sequence[bool], width: float) -> list[float]:
    weights = [1.0 if n else TEXT_WEIGHT for n in numeric]
    return [width * w / sum(weights) for w in weights]


def _cell(cell: Cell, column: ColumnLike, st: Styles) -> object:
    if cells.is_missing(cell):
        return cells.NONE  # the reason is in the note under the table, once
    text = cells.number(cell, column.format)
    if column.format == "text" or isinstance(cell, str):
        return Paragraph(escape(text), st.text)
    return text  # a plain string: right-aligned by the column's ALIGN, cheap for long tables


def size_for(columns: int) -> float:
    """Smaller type for a wide table, so that a heading wraps at most into a few lines."""
    return 8.5 if columns <= 7 else 7.5 if columns <= 10 else 6.5


def data_table(t: TableLike, width: float, font: str) -> Table:
    st = Styles(font, size_for(len(t.columns)))
    numeric = [c.format != "text" for c in t.columns]
    head: list[object] = []
    for c, n in zip(t.columns, numeric, strict=True):
        unit = cells.unit_of(c.format, c.unit)
        head.append(Paragraph(escape(f"{c.label}（{unit}）" if unit else c.label), st.number if n else st.head))
    rows = [[_cell(v, c, st) for v, c in zip(row, t.columns, strict=True)] for row in t.rows]
    if not rows:
        rows = [[Paragraph("本期无记录", st.text), *[""] * (len(t.columns) - 1)]]
    return _grid([head, *rows], _widths(numeric, width), numeric, st)


def figures_table(figures: Sequence[FigureLike], previous: bool, last_year: bool, width: float, st: Styles) -> Flowable:
    """指标 | 本期 | 上期 | 环比 | 去年同期 | 同比: the comparisons only where the report has the period."""
    head = ["指标", "本期"] + (["上期", "环比"] if previous else []) + (["去年同期", "同比"] if last_year else [])
    numeric = [False] + [True] * (len(head) - 1)
    rows: list[list[object]] = []
    spans: list[int] = []
    for f in figures:
        label = escape(f.label)
        if f.formula:
            label += f"<br/><font size={st.size - 2} color='#666666'>{escape(f.formula)}</font>"
        row: list[object] = [Paragraph(label, st.text), _figure(f.value, f, st)]
        shown = [f.value] + ([f.previous] if previous else []) + ([f.last_year] if last_year else [])
        if all(cells.is_missing(v) for v in shown):  # no source at all: its reason once, across
            spans.append(len(rows) + 1)
            rows.append([row[0], Paragraph(escape(cells.reason(f.value)), st.absent), *[""] * (len(head) - 2)])
            continue
        if previous:
            row += [_figure(f.previous, f, st), cells.change(f.value, f.previous, f.format)]
        if last_year:
            row += [_figure(f.last_year, f, st), cells.change(f.value, f.last_year, f.format)]
        rows.append(row)
    heads = [Paragraph(h, st.number if n else st.head) for h, n in zip(head, numeric, strict=True)]
    widths = _widths(numeric, width)
    widths[0] = max(widths[0], width * 0.26)
    rest = (width - widths[0]) / (len(widths) - 1)
    return _grid([heads, *rows], [widths[0]] + [rest] * (len(widths) - 1), numeric, st, spans)


def _figure(cell: Cell, f: FigureLike, st: Styles) -> object:
    if cells.is_missing(cell):
        return Paragraph(escape(cells.reason(cell)), st.missing)
    return cells.with_unit(cell, f.format, f.unit)
