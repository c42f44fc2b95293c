"""What the discipline ledger adds to the built-in pages: on the wall, 大厅公示 of the day's
confirmed violations (exposure.js), names masked as the wall masks them."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment(
        "exposure", HERE / "exposure.js", routes={"exposure": "GET /api/v1/violations/exposure"}, needs=("exposure",)
    ),
}
