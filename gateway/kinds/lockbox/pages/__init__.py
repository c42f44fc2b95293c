"""What the lockbox adds to the built-in pages: the slot grid on the staff page (slots.js), from
which a slot is unlocked."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "staff": Fragment(
        "slots",
        HERE / "slots.js",
        routes={
            "slots": "GET /api/v1/lockboxes/{device}/slots",
            "unlock": "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock",
        },
        needs=("slots",),
    )
}
