"""The report as an A4 portrait PDF: the hall and the period in every page's header, 第 n 页 /
共 m 页 in the footer, then per section its figures, charts and tables."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer
from reportlab.platypus.flowables import Flowable

from . import cells, charts, fonts, tables
from .shape import PeriodLike, ReportLike, SectionLike

MARGIN_X = 18 * mm
MARGIN_TOP = 22 * mm  # the header sits in here
MARGIN_BOTTOM = 18 * mm  # and the page number in here
RULE = colors.HexColor("#9aa7b4")


def render_pdf(report: ReportLike, *, search: Sequence[Path] = fonts.SEARCH) -> bytes:
    """The PDF's bytes. Raises fonts.FontMissing (Chinese message naming the package) when no CJK
    font is installed."""
    font = fonts.cjk_font(search)
    out = io.BytesIO()
    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=report.title,
        author=report.hall,
        subject=f"{report.hall} {report.period.label}",
        creator="hallgate",
        lang="zh-CN",
        initialFontName=font,  # else the canvas starts in Helvetica, named (unembedded) in the file
        initialFontSize=9,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0)
    doc.addPageTemplates([PageTemplate("page", [frame], onPage=_header(report, font))])
    doc.build(_story(report, font, doc.width), canvasmaker=_numbered(font))
    return out.getvalue()


def _span(p: PeriodLike) -> str:
    return f"{p.label}（{_day(p.start)} 至 {_day(p.end)}）"


def _day(d: date) -> str:
    return d.isoformat()


def _local(t: datetime, p: PeriodLike) -> datetime:
    """The hall's wall-clock time of an aware datetime (a naive one is taken as already local)."""
    return t.astimezone(ZoneInfo(p.timezone)) if t.tzinfo else t


def _header(report: ReportLike, font: str) -> Any:
    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        width, height = doc.pagesize
        y = height - MARGIN_TOP + 6 * mm
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawString(MARGIN_X, y, report.hall)
        canvas.drawRightString(width - MARGIN_X, y, f"统计周期 {_span(report.period)}")
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, y - 2.5 * mm, width - MARGIN_X, y - 2.5 * mm)
        canvas.restoreState()

    return draw


def _numbered(font: str) -> type[Canvas]:
    """A canvas that holds its pages until the end, to write 共 m 页 on each."""

    class Numbered(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width = self._pagesize[0]
                self.setFont(font, 8)
                self.drawCentredString(width / 2, MARGIN_BOTTOM - 9 * mm, f"第 {self._pageNumber} 页 / 共 {total} 页")
                super().showPage()
            super().save()

    return Numbered


def _story(report: ReportLike, font: str, width: float) -> list[Flowable]:
    st = tables.Styles(font)
    h1 = ParagraphStyle("h1", fontName=font, fontSize=16, leading=22, spaceAfter=4, wordWrap="CJK")
    h2 = ParagraphStyle("h2", fontName=font, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4, keepWithNext=1)
    h3 = ParagraphStyle("h3", fontName=font, fontSize=10, leading=14, spaceBefore=6, spaceAfter=3, keepWithNext=1)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13, wordWrap="CJK")
    note = ParagraphStyle("note", parent=body, fontSize=8, textColor=tables.GREY, spaceBefore=2)
    esc = tables.escape
    p = report.period
    lines = [f"统计周期：{_span(p)}，共 {p.days} 天，其中工作日 {p.working_days} 天"]
    against = [f"上期 {_span(report.previous)}" if report.previous else ""]
    against.append(f"去年同期 {_span(report.last_year)}" if report.last_year else "")
    if any(against):
        lines.append("对比：" + "；".join(a for a in against if a))
    made = _local(report.created, p)
    lines.append(f"生成时间：{made:%Y-%m-%d %H:%M}" + (f"　生成人：{report.by}" if report.by else ""))
    story: list[Flowable] = [Paragraph(esc(report.title), h1), *(Paragraph(esc(line), body) for line in lines)]
    story.append(Spacer(1, 4 * mm))
    for section in report.sections:
        story += _section(section, report, width, st, (h2, h3, body, note))
    return story


def _section(
    s: SectionLike, report: ReportLike, width: float, st: tables.Styles, styles: tuple[ParagraphStyle, ...]
) -> list[Flowable]:
    h2, h3, body, note = styles
    esc = tables.escape
    out: list[Flowable] = [Paragraph(esc(s.title), h2)]
    if s.note:
        out.append(Paragraph(esc(s.note), body))
    if s.figures:
        compare = (report.previous is not None, report.last_year is not None)
        out.append(tables.figures_table(s.figures, *compare, width, st))
    for chart in s.charts:
        out += [Spacer(1, 3 * mm), charts.drawing(chart, st.font, width)]
    for t in s.tables:
        out += [Paragraph(esc(t.title), h3), tables.data_table(t, width, st.font)]
        out += [Paragraph(esc(n), note) for n in (cells.missing_note(t), t.note) if n]
    return out
