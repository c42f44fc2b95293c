"""Which visit a rating belongs to, and 评价率 against the visits served. Pure.

A served (finished) visit comes from whatever kind keeps the hall's tickets (the read API `Visits`,
gateway/kinds/reads.py); a rating from the rating pads (gateway/domain/ratings.py). A rating names
its visit by its case id (办件编号: the one the window system passed to the pad is the one the
visit's `finished` carried); without one, or when no visit carries it, by the same window and
ticket on the same day, provided the visit's case id does not contradict the rating's. Tickets
restart daily and a server that restarts its numbering issues one twice: of several visits of one
day, window and ticket, the one that finished last before the rating (else the first after it).

The join is made when the figures are asked for, from what both sides hold then: the order the
events came in (a rating before its visit's `finished`, a replayed backlog) changes nothing.

评价率 (rating rate) = visits rated / visits served. A visit is rated when a `rated` rating names
it; `unrated` when only expired prompts (`unrated` events) name it; otherwise not asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from gateway.domain.ratings import Figures, Rating

VISIT_GROUPS = ("window", "staff", "item", "line", "zone", "day")


class Served(NamedTuple):
    """A served visit as the other kinds read it: its served transaction's window, staff, item and
    line (a transferred ticket is served in the line it was transferred to). A tuple: a month of a
    large hall is 100,000 of them, made, hashed and compared at C speed."""

    day: str  # the hall's local date of the visit
    ticket: str
    generation: int  # 0, or 1, 2... when the ticket was issued again that day
    ended_ns: int  # its `finished`
    window: str
    staff: str
    item: str
    line: str
    case_id: str


class Names(Protocol):
    """What of a rating (or an expired prompt) names its visit: a `Rating`, or a `RatingRef`."""

    @property
    def key(self) -> str: ...
    @property
    def rated(self) -> bool | int: ...
    @property
    def ts_ns(self) -> int: ...
    @property
    def day(self) -> str: ...
    @property
    def case_id(self) -> str: ...
    @property
    def window(self) -> str: ...
    @property
    def ticket(self) -> str: ...


class RatingRef(NamedTuple):
    """Only the fields of a rating that the join reads (the rating store's rows, not whole ratings)."""

    key: str
    rated: int
    ts_ns: int
    day: str
    case_id: str
    window: str
    ticket: str


class VisitIndex:
    """Served visits by case id and by (day, window, ticket): the lookup of a rating's visit."""

    def __init__(self, visits: Iterable[Served]) -> None:
        self.by_case: dict[str, Served] = {}
        self.by_ticket: dict[tuple[str, str, str], list[Served]] = {}
        for v in visits:
            if v.case_id and ((have := self.by_case.get(v.case_id)) is None or v < have):
                self.by_case[v.case_id] = v  # of two visits of one case (there should be none), one, always the same
            self.by_ticket.setdefault((v.day, v.window, v.ticket), []).append(v)

    def find(self, r: Names) -> Served | None:
        if r.case_id and (v := self.by_case.get(r.case_id)) is not None:
            return v
        if not r.ticket:
            return None
        candidates = [
            v
            for v in self.by_ticket.get((r.day, r.window, r.ticket), ())
            if not v.case_id or not r.case_id  # a visit of another case is not this rating's
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda v: (v.ended_ns > r.ts_ns, abs(r.ts_ns - v.ended_ns), v))


def visit_group(v: Served, by: str, zone_of: Mapping[str, str]) -> str:
    """The group of a visit; `zone_of`: window -> the zone of its rating pad."""
    if by == "zone":
        return zone_of.get(v.window, "")
    return str(getattr(v, by))


@dataclass
class VisitRates:
    """Visits served in a group, and how many were rated or asked."""

    served: int = 0
    rated: int = 0
    unrated: int = 0  # asked, the prompt expired: never rated

    def out(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "rated": self.rated,
            "unrated": self.unrated,
            "not_asked": self.served - self.rated - self.unrated,
            "rating_rate": round(self.rated / self.served, 4) if self.served else None,
        }


@dataclass
class Joined:
    """The ratings matched to the visits: which visits are rated, which only asked."""

    rated: set[Served]
    asked: set[Served]  # named by an `unrated` (an expired prompt)
    visit_of: dict[str, Served]  # rating key -> its visit


def join(visits: Iterable[Served], ratings: Iterable[Names]) -> Joined:
    index = VisitIndex(visits)
    rated: set[Served] = set()
    asked: set[Served] = set()
    visit_of: dict[str, Served] = {}
    for r in ratings:
        v = index.find(r)
        if v is None:
            continue
        visit_of[r.key] = v
        (rated if r.rated else asked).add(v)
    return Joined(rated, asked, visit_of)


def visit_rates(
    served: Iterable[Served], joined: Joined, by: str | None, zone_of: Mapping[str, str]
) -> tuple[VisitRates, dict[str, VisitRates]]:
    """评价率 of the visits `served`, in total and per group (`by` one of VISIT_GROUPS; None: none)."""
    total, groups = visit_rates_by(served, joined, (by,) if by else (), zone_of)
    return total, groups[by] if by else {}


def visit_rates_by(
    served: Iterable[Served], joined: Joined, groupings: Sequence[str], zone_of: Mapping[str, str]
) -> tuple[VisitRates, dict[str, dict[str, VisitRates]]]:
    """评价率 in total and per group of each of `groupings`, in one pass over the visits."""
    for by in groupings:
        if by not in VISIT_GROUPS:
            raise ValueError(f"by: one of {', '.join(VISIT_GROUPS)}, not {by!r}")
    total = VisitRates()
    groups: dict[str, dict[str, VisitRates]] = {by: {} for by in groupings}
    for v in served:
        rated = v in joined.rated
        unrated = not rated and v in joined.asked
        for f in (total, *(g.setdefault(visit_group(v, by, zone_of), VisitRates()) for by, g in groups.items())):
            f.served += 1
            f.rated += rated
            f.unrated += unrated
    return total, groups


def ratings_by_line(ratings: Iterable[Rating], joined: Joined) -> dict[str, Figures]:
    """Rating figures per line of the visit each rating names ("" for those that name none)."""
    out: dict[str, Figures] = {}
    for r in ratings:
        v = joined.visit_of.get(r.key)
        out.setdefault(v.line if v is not None else "", Figures()).add(r)
    return out
