"""The report's renderers by file format: JSON and XLSX here; PDF when its module is present
(gateway/features/reports/pdf.py, `render(report) -> bytes`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gateway.features.reports.model import Report
from gateway.features.reports.xlsx import workbook


def as_json(report: Report) -> bytes:
    return report.model_dump_json(indent=1).encode()


RENDERERS: dict[str, Callable[[Report], bytes]] = {"json": as_json, "xlsx": workbook}
MEDIA = {
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

try:  # the PDF renderer is built apart (branch `pdf`); without it a report has no PDF
    RENDERERS["pdf"] = importlib.import_module("gateway.features.reports.pdf").render
except ModuleNotFoundError as e:
    if e.name != "gateway.features.reports.pdf":
        raise  # the module is there but a library it needs is not: say so
