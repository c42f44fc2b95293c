"""Cross-kind features: what joins the projections of several kinds (phones in their slots: who
is clocked in, and each slot's phone; the discipline ledger, 违规台账). A feature names no kind: it
finds what it reads through the read APIs the kinds provide (gateway/kinds/reads.py,
`Kind.provides`), and is built like a kind's running parts (gateway/kinds/wiring.py). Like a
kind, it may bring fragments of the built-in pages (`PAGES`: feature -> page -> Fragment), which
GET /api/v1/features lists beside GET /api/v1/kinds, so the pages name no feature either."""

from __future__ import annotations

from gateway.features import compliance, discipline, rated_series, reports
from gateway.features.discipline import pages as discipline_pages
from gateway.features.reports import pages as reports_pages
from gateway.kinds.base import Fragment
from gateway.kinds.wiring import Builder

FEATURES: tuple[Builder, ...] = (compliance.run, discipline.run, reports.run, rated_series.run)
# name -> (its label, page -> its fragment there)
PAGES: dict[str, tuple[str, dict[str, Fragment]]] = {
    "discipline": ("违规台账", discipline_pages.PAGES),
    "reports": ("运行情况报告", reports_pages.PAGES),
}
