"""What the attendance machines add to the built-in pages: on the manager page, a day's attendance
per person (first in, last out, late, early leave, missing punches) and its export (daily.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "manager": Fragment(
        "daily",
        HERE / "daily.js",
        routes={"daily": "GET /api/v1/attendance/daily", "export": "GET /api/v1/attendance/daily/export"},
        needs=("daily",),
    ),
}
