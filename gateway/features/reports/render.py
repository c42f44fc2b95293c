"""The report's renderers by file format: JSON, XLSX (openpyxl) and PDF (reportlab, with a CJK
font: gateway/features/reports/pdf/). The two libraries are imported when a report is rendered,
not when the gateway starts: every gateway process would carry them (about 10 MiB) for a file made
once a week."""

from __future__ import annotations

from collections.abc import Callable

from gateway.features.reports.model import Report


def as_json(report: Report) -> bytes:
    return report.model_dump_json(indent=1).encode()


def as_xlsx(report: Report) -> bytes:
    from gateway.features.reports.xlsx import workbook

    return workbook(report)


def as_pdf(report: Report) -> bytes:
    from gateway.features.reports.pdf import render

    return render(report)


RENDERERS: dict[str, Callable[[Report], bytes]] = {"json": as_json, "xlsx": as_xlsx, "pdf": as_pdf}
MEDIA = {
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
