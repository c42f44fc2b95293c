"""What the rating pads add to the built-in pages: on the manager page, the rating figures by group
with a drill-down to the ratings themselves, and the 差评 work orders with their filters, their
history and their next steps (manager.js); both export what they show."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "manager": Fragment(
        "manager",
        HERE / "manager.js",
        routes={
            "summary": "GET /api/v1/ratings/summary",
            "export": "GET /api/v1/ratings/summary/export",
            "ratings": "GET /api/v1/ratings",
            "orders": "GET /api/v1/workorders",
            "orders_export": "GET /api/v1/workorders/export",
            "order": "GET /api/v1/workorders/{order_id}",
            "act": "POST /api/v1/workorders/{order_id}/{action}",
        },
        needs=("summary",),
    ),
}
