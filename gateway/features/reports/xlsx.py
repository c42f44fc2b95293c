"""A report as an XLSX workbook (openpyxl): one sheet per section, real numbers with their number
formats (a rate is a number shown as a percentage, not the text "95.3%"), the header frozen,
columns wide enough for their Chinese headings. A value the hall cannot give is an empty cell
with its reason in the row's 说明 column, so that the sheet still sums and never shows a false 0."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gateway.domain.cells import texts_only
from gateway.features.reports.model import Cell, Column, FigureValue, Format, Missing, Report, Table

NUMBER_FORMATS: dict[Format, str] = {"int": "0", "dec1": "0.0", "percent": "0.0%", "minutes": "0.0", "text": "@"}
BOLD = Font(bold=True)


def _put(ws: Worksheet, row: int, col: int, value: Cell, fmt: Format) -> str | None:
    """Write one cell; the reason when the value is missing."""
    if isinstance(value, Missing):
        return value.reason
    c = ws.cell(row=row, column=col, value=value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        c.number_format = NUMBER_FORMATS[fmt]
    return None


def _heading(col: Column) -> str:
    return f"{col.label}（{col.unit}）" if col.unit and col.format != "percent" else col.label


def _header(ws: Worksheet, row: int, titles: list[str]) -> None:
    for n, t in enumerate(titles, 1):
        ws.cell(row=row, column=n, value=t).font = BOLD


def _shown(value: object) -> int:
    """About how many Latin characters wide a value shows (a CJK character is two)."""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _fit(ws: Worksheet) -> None:
    """Each column as wide as its widest cell, from 8 to 50 characters; a line alone in column A
    (a table's title, a note) left out: it overflows into the empty cells beside it."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is None or (c.column == 1 and ws.cell(c.row, 2).value is None):
                continue
            widths[c.column] = max(widths.get(c.column, 0), _shown(c.value))
    for n, w in widths.items():
        ws.column_dimensions[get_column_letter(n)].width = min(max(8, w + 2), 50)


def _figures(ws: Worksheet, figures: list[FigureValue]) -> int:
    titles = ["指标", "单位", "本期", "上期", "去年同期", "说明", "计算方法"]
    _header(ws, 1, titles)
    for r, f in enumerate(figures, 2):
        ws.cell(row=r, column=1, value=f.label)
        ws.cell(row=r, column=2, value=f.unit)
        notes = [_put(ws, r, 3 + n, v, f.format) for n, v in enumerate((f.value, f.previous, f.last_year))]
        said = [f"{w}：{why}" for w, why in zip(("本期", "上期", "去年同期"), notes, strict=True) if why]
        ws.cell(row=r, column=6, value="；".join(said) or None)
        ws.cell(row=r, column=7, value=f.formula)
    return len(figures) + 1


def _grid(ws: Worksheet, head: int, t: Table) -> int:
    """The table's header at row `head`, its rows below, a 说明 column for what is missing; the
    next free row."""
    titles = [_heading(c) for c in t.columns] + ["说明"]
    _header(ws, head, titles)
    for r, cells in enumerate(t.rows, head + 1):
        notes = [_put(ws, r, n, v, c.format) for n, (c, v) in enumerate(zip(t.columns, cells, strict=True), 1)]
        said = [f"{c.label}：{why}" for c, why in zip(t.columns, notes, strict=True) if why]
        if said:
            ws.cell(row=r, column=len(titles), value="；".join(dict.fromkeys(said)))
    end = head + 1 + len(t.rows)
    if t.note:
        ws.cell(row=end, column=1, value=t.note)
        end += 1
    return end + 1


def workbook(report: Report) -> bytes:
    wb = Workbook()
    first = wb.active
    assert first is not None
    ws0: Worksheet = first
    ws0.title = "概况"
    p = report.period
    rows = [
        ("报告", report.title),
        ("期间", p.label),
        ("起", p.start),
        ("止", p.end),
        ("天数", p.days),
        ("工作日", p.working_days),
        ("时区", p.timezone),
        ("生成时间", report.created.replace(tzinfo=None)),
        ("生成人", report.by),
    ]
    for r, (k, v) in enumerate(rows, 1):
        ws0.cell(row=r, column=1, value=k).font = BOLD
        c = ws0.cell(row=r, column=2, value=v)
        if k in ("起", "止"):
            c.number_format = "yyyy-mm-dd"
        elif k == "生成时间":
            c.number_format = "yyyy-mm-dd hh:mm"
    _fit(ws0)
    for s in report.sections:
        ws = wb.create_sheet(s.title[:31])
        if s.figures:
            row = _figures(ws, s.figures) + 2
        elif s.tables:  # a sheet that is tables only: the first one's header in row 1, frozen
            row = _grid(ws, 1, s.tables[0])
        else:
            row = 1
        for t in s.tables[0 if s.figures else 1 :]:
            ws.cell(row=row, column=1, value=t.title).font = BOLD
            row = _grid(ws, row + 1, t)
        if s.note:
            ws.cell(row=row, column=1, value=s.note)
        ws.freeze_panes = "A2"
        _fit(ws)
    texts_only(wb)  # a window's or a person's name starting with = is shown, never run
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
