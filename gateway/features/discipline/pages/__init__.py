"""What the discipline ledger adds to the built-in pages: on the wall, 大厅公示 of the day's
confirmed violations (exposure.js), names masked as the wall masks them; on the manager page the
ledger (ledger.js: filters, a record's evidence, trail and photo, its steps, the export, the view
by department); on the staff page a person's own records and notices (mine.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent
V = "/api/v1/violations"

PAGES = {
    "wall": Fragment(
        "exposure", HERE / "exposure.js", routes={"exposure": "GET /api/v1/violations/exposure"}, needs=("exposure",)
    ),
    "manager": Fragment(
        "ledger",
        HERE / "ledger.js",
        routes={
            "ledger": f"GET {V}",
            "record": f"GET {V}/{{violation_id}}",
            "photo": f"GET {V}/{{violation_id}}/photo",
            "confirm": f"POST {V}/{{violation_id}}/confirm",
            "dismiss": f"POST {V}/{{violation_id}}/dismiss",
            "decide": f"POST {V}/{{violation_id}}/decide",
            "export": f"GET {V}/export",
            "departments": f"GET {V}/departments",
        },
        needs=("ledger", "record"),
    ),
    "staff": Fragment(
        "mine",
        HERE / "mine.js",
        routes={
            "mine": f"GET {V}/mine",
            "appeal": f"POST {V}/{{violation_id}}/appeal",
            "notices": "GET /api/v1/notices",
            "ack": "POST /api/v1/notices/{notice_id}/ack",
        },
        needs=("mine",),
    ),
}
