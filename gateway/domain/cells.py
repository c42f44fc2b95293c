"""Text that a spreadsheet must show, never run. A name typed into the hall (a window, a
department, a person, a reason) reaches the CSV and XLSX exports: a cell starting with `=`, `+`,
`-` or `@` is a formula to Excel and WPS (`=HYPERLINK("http://...","点此")`, `=cmd|...`), and
openpyxl itself writes a string starting with `=` as a formula. Pure: the value in, the value out."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def runs(value: Any) -> bool:
    """A text a spreadsheet would read as a formula (numbers are numbers, not text)."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def inert(value: Any) -> Any:
    """For a CSV: a formula-like text behind an apostrophe (shown as typed, never evaluated)."""
    return "'" + value if runs(value) else value


def texts_only(workbook: Any) -> None:
    """Every cell of an openpyxl workbook that would be a formula written as the text it is: the
    exports write values, never formulas, so whatever reads as one came from a person's text."""
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
