"""How a value is written in the PDF, by its column's format: the same digits the API gives,
never a 0 for a value the hall cannot give (that cell says why)."""

from __future__ import annotations

from .shape import Cell, MissingLike, TableLike

NONE = "—"  # no value: in a table, its reason is in the note under it
PLACES = 3  # a reason names up to this many rows of a column, then counts the rest


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


def missing_note(t: TableLike) -> str:
    """Why a table's dashes have no value, each reason once with where it holds: a whole column
    by its heading (本厅没有评价器（评价数、好评率）), else with the rows' first cells."""
    where: dict[str, dict[str, list[str]]] = {}  # reason -> column -> rows
    for i, row in enumerate(t.rows, start=1):
        name = row[0] if row and isinstance(row[0], str) else f"第 {i} 行"
        for column, cell in zip(t.columns, row, strict=True):
            if is_missing(cell):
                where.setdefault(reason(cell), {}).setdefault(column.label, []).append(name)
    parts = []
    for why, columns in where.items():
        places = []
        for label, rows in columns.items():
            if len(rows) == len(t.rows):
                places.append(label)
                continue
            more = f" 等 {len(rows)} 处" if len(rows) > PLACES else ""
            places.append(f"{label}：{'、'.join(rows[:PLACES])}{more}")
        parts.append(f"{why}（{'；'.join(places)}）")
    return f"“{NONE}”无数值：" + "；".join(parts) if parts else ""
