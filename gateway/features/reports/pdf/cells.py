"""How a value is written in the PDF, by its column's format: the same digits the API gives,
never a 0 for a value the hall cannot give (that cell says why)."""

from __future__ import annotations

from .shape import Cell, MissingLike

NONE = "—"  # no value and no reason given


def is_missing(cell: Cell) -> bool:
    return cell is not None and not isinstance(cell, int | float | str)


def number(cell: Cell, fmt: str) -> str:
    """A present value as text: int 1234, dec1 12.3, percent 0.953 -> 95.3, minutes 12.3; the unit
    is written beside it by the caller (column heading or cell)."""
    if cell is None:
        return NONE
    if is_missing(cell):
        return reason(cell)
    if isinstance(cell, str) or fmt == "text":
        return str(cell)
    if fmt == "int":
        return f"{round(cell):d}"
    if fmt == "percent":
        return f"{cell * 100:.1f}"
    return f"{cell:.1f}"  # dec1, minutes


def reason(cell: Cell) -> str:
    missing: MissingLike = cell  # type: ignore[assignment]
    return missing.reason or missing.code


def unit_of(fmt: str, unit: str) -> str:
    """A percentage's unit is % even when the column left it empty."""
    return unit or ("%" if fmt == "percent" else "")


def with_unit(cell: Cell, fmt: str, unit: str) -> str:
    """A value with its unit beside it (95.3 %, 12.5 分钟); a missing one with its reason only."""
    text = number(cell, fmt)
    u = unit_of(fmt, unit)
    if cell is None or is_missing(cell) or isinstance(cell, str) or not u:
        return text
    return f"{text} {u}"


def change(value: Cell, before: Cell, fmt: str) -> str:
    """The change from an earlier period: percentage points for a percentage (95.3 % after 93.0 %
    is +2.3 个百分点), relative for the rest (+12.5 %); a dash where either side is absent or the
    earlier one is 0."""
    numeric = (int, float)
    if not isinstance(value, numeric) or not isinstance(before, numeric) or fmt == "text":
        return NONE
    if fmt == "percent":
        return f"{(value - before) * 100:+.1f} 个百分点"
    if before == 0:
        return NONE
    return f"{(value - before) / abs(before) * 100:+.1f} %"
