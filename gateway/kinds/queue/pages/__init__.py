"""What the queue system adds to the built-in pages: on the wall, 当前等候 per line and the
expected wait for a ticket taken now (waiting.js); on the manager page, the day's curve of tickets
issued and served per hour and the waiting and handling times per window (day.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment("waiting", HERE / "waiting.js", routes={"lines": "GET /api/v1/queue"}, needs=("lines",)),
    "manager": Fragment("day", HERE / "day.js", routes={"summary": "GET /api/v1/queue/summary"}, needs=("summary",)),
}
