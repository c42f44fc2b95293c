"""The ratings against the hall's served visits: 评价率 = visits rated / visits served, and the
ratings per line of their visit. The visits come from whichever kind provides `Visits`
(gateway/kinds/reads.py); a hall without one has no denominator, and says so.

Joined when asked for (gateway/domain/rated_visits.py), not when a rating is stored: each side
keeps what it receives, so a rating that comes before its visit's `finished`, a replayed backlog
or a reissued ticket needs no repair, and the rating store keeps no copy of the visit to go stale.
The cost is reading the period's served visits with its ratings, once per summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.domain.rated_visits import VisitRates, join, ratings_by_line, visit_rates, visit_rates_by
from gateway.domain.ratings import Figures
from gateway.kinds.rating_pad.store import RatingStore
from gateway.kinds.reads import Visits

# A rating comes minutes after its visit's `finished`, and a visit is served within hours of its
# ticket (a pad's clock may be off too): the visits that began up to half a day before the period,
# and the ratings up to half a day either side, are looked at to find each one's match, while only
# the period's own are counted. (A period's bounds leave months of room in an int64 of ns,
# gateway/api/routes/period.py: half a day either side fits.)
MARGIN_NS = 12 * 3600 * 10**9

NO_VISITS = {
    "code": "no_visits",
    "message": "本厅未接入排队叫号系统，办结的办件数无从得知，无法按办件计算评价率 "
    "(no source of served visits in this hall: the rating rate per visit is not known)",
}


@dataclass
class AgainstVisits:
    total: VisitRates
    groups: dict[str, VisitRates]  # by the visit's window, staff, item, line, zone (of its pad) or day
    without_visit: int  # the period's ratings (rated) that name no served visit
    by_line: dict[str, Figures] = field(default_factory=dict)  # the period's ratings per line of their visit


def rates_by(
    store: RatingStore,
    visits: Visits,
    start_ns: int,
    end_ns: int,
    groupings: Sequence[str],
    zone_of: Mapping[str, str],
) -> tuple[VisitRates, dict[str, dict[str, VisitRates]]]:
    """评价率 in total and per group of each of `groupings`, from one join (the operations
    reports ask for several: the join is most of the cost)."""
    period = visits.served(start_ns, end_ns)
    joined = join(
        [*visits.served(start_ns - MARGIN_NS, start_ns), *period], store.refs(start_ns - MARGIN_NS, end_ns + MARGIN_NS)
    )
    return visit_rates_by(period, joined, groupings, zone_of)


def against_visits(
    store: RatingStore,
    visits: Visits,
    start_ns: int,
    end_ns: int,
    by: str | None,
    window: str | None,
    zone_of: Mapping[str, str],
) -> AgainstVisits:
    before, after = start_ns - MARGIN_NS, end_ns + MARGIN_NS
    period = visits.served(start_ns, end_ns)
    served = [v for v in period if window is None or v.window == window]
    refs = store.refs(before, after)
    joined = join([*visits.served(before, start_ns), *period], refs)
    own = [r for r in refs if start_ns <= r.ts_ns < end_ns and (window is None or r.window == window)]
    total, groups = visit_rates(served, joined, by, zone_of)
    return AgainstVisits(
        total=total,
        groups=groups,
        without_visit=sum(1 for r in own if r.rated and r.key not in joined.visit_of),
        by_line=ratings_by_line(store.between(start_ns, end_ns, window), joined) if by == "line" else {},
    )
