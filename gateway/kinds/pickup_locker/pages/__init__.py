"""What the pickup locker adds to the built-in pages: the door grid on the staff page, a deposit
from it (the pickup code and its QR), and the items near or past expiry (doors.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "staff": Fragment(
        "doors",
        HERE / "doors.js",
        routes={
            "items": "GET /api/v1/lockers/{locker}/items",
            "deposit": "POST /api/v1/lockers/{locker}/doors/{door}/deposit",
        },
        needs=("items",),
    )
}
