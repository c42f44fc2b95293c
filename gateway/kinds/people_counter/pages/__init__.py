"""What the people counters add to the built-in pages: on the manager page, a zone's (or the hall's)
in, out and occupancy over a range, per minute, hour or day, and its export (history.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "manager": Fragment(
        "history",
        HERE / "history.js",
        routes={
            "zones": "GET /api/v1/occupancy",
            "history": "GET /api/v1/occupancy/history",
            "export": "GET /api/v1/occupancy/history/export",
        },
        needs=("zones", "history"),
    ),
}
