"""What the counters add to the built-in pages: on the wall, each zone's people against its
capacity, 全厅 (the net flow through the doors to the outside) with why it differs from the zones'
sum, and today's flow by the hour (zones.js); on the manager page, a zone's (or the hall's) in,
out and occupancy over a range, per minute, hour or day, and its export (history.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment(
        "zones",
        HERE / "zones.js",
        routes={"stream": "GET /api/v1/occupancy/stream", "history": "GET /api/v1/occupancy/history"},
        needs=("stream", "history"),
    ),
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
