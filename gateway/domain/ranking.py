"""一月一评比: the month's window ranking. Pure.

Each criterion is scaled across the windows to 0..1 (the best window 1, the worst 0; all equal:
1 for all), turned round where less is better (handling time, violations, overdue orders, 空岗), and the
score is the weighted mean of the scaled criteria, out of 100. A window without a value for a
criterion (no ratings, say) scores 0 on it: a window is not rewarded for what it did not show.

Ties (equal scores to 0.01) are broken by, in order: the higher 好评率, the more ratings, the
window's name (A before B): TIE_RULE says so on the report. The first `red_flags` windows are the
month's 红旗窗口.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# criterion -> (Chinese label, more is better)
CRITERIA: dict[str, tuple[str, bool]] = {
    "good_rate": ("好评率", True),
    "rating_rate": ("评价率", True),
    "handling_mean": ("平均办理时长", False),
    "violations": ("确认违规数", False),
    "overdue": ("逾期工单数", False),
    "empty_minutes": ("空岗时长", False),  # weighed only where a hall sets it (its windows' posts)
}
DEFAULT_WEIGHTS = {"good_rate": 40.0, "rating_rate": 20.0, "handling_mean": 20.0, "violations": 10.0, "overdue": 10.0}
TIE_RULE = "得分相同（精确到 0.01）时，依次比较：好评率高者在前、评价数多者在前、窗口编号小者在前"


@dataclass(frozen=True, slots=True)
class Ranked:
    window: str
    rank: int
    score: float
    red_flag: bool
    parts: dict[str, float]  # criterion -> its scaled value 0..1


def rank(
    rows: Mapping[str, Mapping[str, float | None]],
    weights: Mapping[str, float],
    red_flags: int,
    rated: Mapping[str, int] | None = None,
) -> list[Ranked]:
    """Windows (id -> criterion -> value, None: none) ranked by their weighted score."""
    unknown = set(weights) - set(CRITERIA)
    if unknown:
        raise ValueError(f"unknown ranking criteria: {', '.join(sorted(unknown))}")
    total = sum(w for w in weights.values() if w > 0)
    scaled: dict[str, dict[str, float]] = {w: {} for w in rows}
    for c, weight in weights.items():
        if weight <= 0:
            continue
        more_better = CRITERIA[c][1]
        values = [v for r in rows.values() if (v := r.get(c)) is not None]
        lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
        for w, r in rows.items():
            v = r.get(c)
            if v is None:
                scaled[w][c] = 0.0
            elif hi == lo:
                scaled[w][c] = 1.0
            else:
                x = (v - lo) / (hi - lo)
                scaled[w][c] = x if more_better else 1 - x
    score = {
        w: round(100 * sum(weights[c] * s for c, s in parts.items()) / total, 2) if total else 0.0
        for w, parts in scaled.items()
    }
    rated = rated or {}

    def key(w: str) -> tuple[float, float, int, str]:
        return (-score[w], -(rows[w].get("good_rate") or 0.0), -rated.get(w, 0), w)

    order = sorted(rows, key=key)
    return [Ranked(w, n + 1, score[w], n < red_flags, scaled[w]) for n, w in enumerate(order)]
