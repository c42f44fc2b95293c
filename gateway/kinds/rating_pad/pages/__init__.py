"""What the rating pads add to the built-in pages: on the wall, today's ratings (评价率, 好评率, per
window, or in public mode per service item) and the 差评 with how far their handling has come
(rated_today.js); on the manager page, the rating figures by group with a drill-down to the
ratings themselves, and the 差评 work orders with their filters, their history and their next
steps (manager.js); both export what they show."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment(
        "rated_today",
        HERE / "rated_today.js",
        routes={
            "summary": "GET /api/v1/ratings/summary",
            "bad": "GET /api/v1/ratings/bad",  # the public wall's: no who, where or which case
            "orders": "GET /api/v1/workorders",
        },
        needs=("summary",),
    ),
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
