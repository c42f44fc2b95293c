"""The report model: what a rendered operations report holds, whatever it is rendered to (JSON,
XLSX, PDF). Plain pydantic, no I/O: the renderers read only this.

A report is a list of sections; a section has tables and figures. A table's columns carry their
unit and number format so that every renderer shows the same value the same way. A cell that has
no value says why (`Missing`), never 0: a hall without a queue system has no 取号数.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["day", "week", "month", "quarter", "range"]
# how a number is shown: integer, one decimal, a ratio shown as a percentage (0.953 -> 95.3 %),
# a duration in minutes with one decimal, plain text
Format = Literal["int", "dec1", "percent", "minutes", "text"]


class Missing(BaseModel):
    """A value the hall cannot give, with the reason in Chinese and its machine code."""

    code: str  # e.g. "no_source", "no_data", "not_recorded"
    reason: str  # e.g. "本厅没有排队叫号系统"


Value = float | int | str | None
Cell = Value | Missing


class Column(BaseModel):
    key: str
    label: str  # Chinese heading, e.g. "好评率"
    unit: str = ""  # e.g. "%", "分钟", "人次"
    format: Format = "int"


class Table(BaseModel):
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]]  # each row in the columns' order
    note: str = ""


class FigureValue(BaseModel):
    """One figure of the registry (gateway/features/reports/figures.py) for the whole hall, with
    its comparisons; `value` is a Missing when the source does not exist or had no data."""

    name: str  # machine name, e.g. "calls.tickets"
    label: str  # Chinese, e.g. "取号数"
    unit: str = ""
    format: Format = "int"
    formula: str = ""  # the formula as written next to its code
    value: Cell = None
    previous: Cell = None  # the previous period (last week, last month...)
    last_year: Cell = None  # the same period a year before


class Chart(BaseModel):
    """A figure drawn as a chart (the PDF draws it; the XLSX keeps the numbers in a table)."""

    key: str
    title: str
    type: Literal["bar", "line"] = "bar"
    x: list[str]  # category labels
    series: dict[str, list[float | None]]  # series label -> one value per x
    unit: str = ""


class Section(BaseModel):
    key: str  # e.g. "calls" (排队叫号), "ratings", "orders", "clocking", "discipline", "visitors", "devices", "ranking"
    title: str  # Chinese, e.g. "排队叫号"
    figures: list[FigureValue] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    note: str = ""  # e.g. why the section is empty: "本厅没有排队叫号系统"


class Period(BaseModel):
    kind: Kind
    label: str  # as requested: "2026-12-07", "2026-W49", "2026-12", "2026-Q4"
    start: date  # first day
    end: date  # last day (inclusive)
    start_ns: int  # hall local midnight of `start`, as UTC ns
    end_ns: int  # hall local midnight after `end` (exclusive)
    days: int
    working_days: int
    timezone: str


class Report(BaseModel):
    title: str  # e.g. "某某政务服务大厅 运行情况报告 2026-12"
    hall: str
    period: Period
    previous: Period | None = None
    last_year: Period | None = None
    created: datetime
    by: str = ""
    sections: list[Section]
