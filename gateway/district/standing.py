"""The cross-site 评比 of a period with district.yaml's `ranking` weights (the reports' criteria and
scaling, gateway/domain/ranking.py), sites in place of windows. Pure.

The district store has what the sites forward: 好评率, 评价率 and the mean handling time. The
discipline ledger and the work orders stay in each hall, so `violations` and `overdue` are left
out of the district's score (said in `left_out`), not counted as 0 for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain.ranking import CRITERIA, rank

FROM_FIGURES = {"good_rate": "good_rate", "rating_rate": "rating_rate", "handling_mean": "handling_mean_min"}
RANKED = ("served", "rated", "rated_served", "good", "handling_s", "handled")  # the counts those figures are made of


def standing(figures: Mapping[str, Mapping[str, Any]], weights: Mapping[str, float], red_flags: int) -> dict[str, Any]:
    """figures: site -> its figures (figures.figures()); the ranked sites with their score and
    criteria, the weights used and the criteria left out."""
    used = {c: w for c, w in weights.items() if c in FROM_FIGURES and w > 0}
    left_out = [c for c, w in weights.items() if c not in FROM_FIGURES and w > 0]
    rows = {s: {c: f.get(FROM_FIGURES[c]) for c in used} for s, f in figures.items()}
    rated = {s: int(f.get("rated") or 0) for s, f in figures.items()}
    ranked = rank(rows, used, red_flags, rated) if used else []
    return {
        "weights": used,
        "left_out": left_out,
        "rows": [
            # rank() ranks "windows": here each is a site's id.
            {"site": r.window, "rank": r.rank, "score": r.score, "red_flag": r.red_flag, "values": rows[r.window]}
            for r in ranked
        ],
        "criteria": {c: {"label": CRITERIA[c][0], "more_is_better": CRITERIA[c][1]} for c in used},
    }
