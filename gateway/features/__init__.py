"""Cross-kind features: what joins the projections of several kinds (phones in their slots: who
is clocked in, and each slot's phone; the discipline ledger, 违规台账). A feature names no kind: it
finds what it reads through the read APIs the kinds provide (gateway/kinds/reads.py,
`Kind.provides`), and is built like a kind's running parts (gateway/kinds/wiring.py)."""

from __future__ import annotations

from gateway.features import compliance, discipline, reports
from gateway.kinds.wiring import Builder

FEATURES: tuple[Builder, ...] = (compliance.run, discipline.run, reports.run)
