"""What the PDF renderer reads of a report, as Protocols: structurally the report model's
classes (gateway/features/reports/model.py `Report`, `Period`, `Section`, `Table`, `Column`,
`FigureValue`, `Chart`, `Missing`), so that the renderer depends on no more than it draws and can
be tested with plain objects of the same shape.

Read-only properties, so that a model's `list[Section]` satisfies a `Sequence[SectionLike]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Protocol


class MissingLike(Protocol):
    """A value the hall cannot give, with the reason in Chinese (never drawn as 0)."""

    @property
    def code(self) -> str: ...
    @property
    def reason(self) -> str: ...


Cell = float | int | str | None | MissingLike


class ColumnLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def format(self) -> str: ...  # "int", "dec1", "percent" (a ratio: 0.953 -> 95.3), "minutes", "text"


class TableLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def columns(self) -> Sequence[ColumnLike]: ...
    @property
    def rows(self) -> Sequence[Sequence[Cell]]: ...
    @property
    def note(self) -> str: ...


class FigureLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def formula(self) -> str: ...
    @property
    def value(self) -> Cell: ...
    @property
    def previous(self) -> Cell: ...
    @property
    def last_year(self) -> Cell: ...


class ChartLike(Protocol):
    """Values are drawn as given, but for a chart in % (`unit == "%"`): ratios, as a percent
    column's cells (0.953 is drawn as 95.3)."""

    @property
    def title(self) -> str: ...
    @property
    def type(self) -> str: ...  # "bar" or "line"
    @property
    def x(self) -> Sequence[str]: ...
    @property
    def series(self) -> Mapping[str, Sequence[float | None]]: ...
    @property
    def unit(self) -> str: ...


class SectionLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def figures(self) -> Sequence[FigureLike]: ...
    @property
    def tables(self) -> Sequence[TableLike]: ...
    @property
    def charts(self) -> Sequence[ChartLike]: ...
    @property
    def note(self) -> str: ...


class PeriodLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...  # inclusive
    @property
    def days(self) -> int: ...
    @property
    def working_days(self) -> int: ...
    @property
    def timezone(self) -> str: ...  # the hall's, e.g. "Asia/Shanghai"


class ReportLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def hall(self) -> str: ...
    @property
    def period(self) -> PeriodLike: ...
    @property
    def previous(self) -> PeriodLike | None: ...
    @property
    def last_year(self) -> PeriodLike | None: ...
    @property
    def created(self) -> datetime: ...
    @property
    def by(self) -> str: ...
    @property
    def sections(self) -> Sequence[SectionLike]: ...
