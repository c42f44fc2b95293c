"""A table a page shows, as a file to download (the manager page's 导出): CSV or XLSX.

CSV is UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it as UTF-8 and not GBK.
XLSX is written by openpyxl with real cells: counts and means as numbers, rates as percentages,
times as date-times in the hall's own time (Excel has no time zones), so the sheet sums and sorts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response

from gateway.domain.cells import inert, texts_only

Format = Literal["csv", "xlsx"]
Type = Literal["text", "int", "float", "percent", "datetime"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS = {"int": "0", "float": "0.00", "percent": "0.0%", "datetime": "yyyy-mm-dd hh:mm"}


@dataclass(frozen=True)
class Column:
    title: str  # as the page's column reads, in Chinese
    type: Type = "text"


def local_time(value: str | None) -> datetime | None:
    """An API time ("2026-12-06T10:00:00.000+08:00", the hall's offset) as the hall's wall clock."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=None)


def _text(value: Any, type_: Type) -> str:
    if value is None:
        return ""
    if type_ == "datetime":
        return value.strftime("%Y-%m-%d %H:%M")
    if type_ == "percent":
        return f"{value * 100:.1f}%"
    if type_ == "float":
        return f"{value:.2f}"
    return str(value)


def to_csv(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([c.title for c in columns])
    # A text as typed (a name) is never a formula to the spreadsheet that opens it; numbers stay numbers.
    w.writerows(
        [inert(_text(v, c.type)) if isinstance(v, str) else _text(v, c.type) for v, c in zip(row, columns, strict=True)]
        for row in rows
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheet: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> bytes:
    # openpyxl (with Pillow, which it imports when installed) is some 7 MiB of a gateway's resident
    # set: imported for the first download, not when the routes are built (issue 19).
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]  # Excel's limit for a sheet's name
    ws.append([c.title for c in columns])
    for row in rows:
        ws.append(list(row))
    for i, c in enumerate(columns, 1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = 20 if c.type in ("text", "datetime") else 12
        if c.type in NUMBER_FORMATS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = NUMBER_FORMATS[c.type]
    ws.freeze_panes = "A2"  # the titles stay in view while scrolling
    texts_only(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export(name: str, fmt: Format, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> Response:
    """`name` (Chinese, no extension) names the file and the sheet."""
    if fmt == "xlsx":
        body, media = to_xlsx(name, columns, rows), XLSX
    else:
        body, media = to_csv(columns, rows), "text/csv; charset=utf-8"
    # RFC 6266: an ASCII fallback and the UTF-8 name browsers use
    disposition = f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(f'{name}.{fmt}')}"
    return Response(body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})
