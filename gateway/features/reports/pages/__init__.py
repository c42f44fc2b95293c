"""What the operations reports add to the built-in pages: on the manager page, the reports made
(kind, period, state, when, the files to download, where each was delivered; a failed one says
why) and the schedule's next runs (reports.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "manager": Fragment(
        "reports",
        HERE / "reports.js",
        routes={
            "list": "GET /api/v1/reports",
            "schedule": "GET /api/v1/reports/schedule",
            "file": "GET /api/v1/reports/{ref}",
        },
        needs=("list",),
    ),
}
