"""How long the discipline ledger keeps a violation, and what its deletion says. Pure: the clock,
the setting and what a batch removed come in; the cut-off and the audit's text out.

A violation is kept `retention_days` after its last step (its decision, dismissal, confirmation,
appeal, notice, signature or photo), or after it was detected or recorded if nobody acted on it:
the time it was last worked on is the time a person may still ask about it. The deletion's audit
names how many and the period they happened in, never a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

NS = 10**9
DAY_NS = 86400 * NS


def cutoff(now_ns: int, days: float) -> int:
    """A violation whose last step is before this is past its retention."""
    return now_ns - int(days * DAY_NS)


@dataclass(slots=True)
class Swept:
    """What one pass removed: violations (and the steps, photos, notices that were theirs)."""

    violations: int = 0
    photos: int = 0
    notices: int = 0
    reads: int = 0  # rows of the read audit (ledger_reads) past their own retention
    first_ns: int | None = None  # the earliest and latest time one of them happened (at_ns)
    last_ns: int | None = None

    def add(self, count: int, photos: int, notices: int, first_ns: int | None, last_ns: int | None) -> None:
        self.violations += count
        self.photos += photos
        self.notices += notices
        if first_ns is not None:
            self.first_ns = first_ns if self.first_ns is None else min(self.first_ns, first_ns)
        if last_ns is not None:
            self.last_ns = last_ns if self.last_ns is None else max(self.last_ns, last_ns)


def reason(s: Swept, days: float, zone: ZoneInfo) -> str:
    """The audit's words for a pass: how many, which period, the setting; no names."""

    def day(ns: int | None) -> str:
        return datetime.fromtimestamp((ns or 0) / NS, zone).date().isoformat()

    return (
        f"违规台账超过保留期 {days:g} 天 (retention_days)：删除违规记录 {s.violations} 条"
        f"（发生于 {day(s.first_ns)} 至 {day(s.last_ns)}），照片 {s.photos} 张，整改通知单 {s.notices} 份；"
        f"台账阅读记录 {s.reads} 条"
    )


def unused(removed: set[str], still_named: set[str]) -> set[str]:
    """The photo digests a pass removed that no kept violation names: their files go too (one file
    a digest: the same pixels uploaded twice are one file)."""
    return removed - still_named
