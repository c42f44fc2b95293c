"""A window post's (AB岗) day as the operations reports count it: how long it was open (开放量),
empty (空岗) and covered by its B for an absent A (AB 顶岗). Pure: the day's punches in, seconds out.

Only working time counts (the day's hours, lunch taken out): a post nobody staffs at night is not
空岗. A post is open while its A or its B is clocked in (gateway/domain/attendance.py's spells).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.domain.attendance import Day, Punch, effective, inside, overlap, union


@dataclass(frozen=True, slots=True)
class PostDay:
    window: str
    day: str  # ISO date
    working_s: float  # the day's working time up to the judged moment
    open_s: float  # working time with A or B on the post (开放量)
    empty_s: float  # working time with nobody on it (空岗): working_s - open_s
    covered_s: float  # working time with B on it while A was not (B 顶 A)


def _within(spells: Sequence[tuple[int, int]], periods: Sequence[tuple[int, int]]) -> float:
    return sum(overlap(s, p) for s in spells for p in periods) / 1e9


def _minus(spells: Sequence[tuple[int, int]], holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `spells` outside every one of `holes` (both sorted and disjoint)."""
    out: list[tuple[int, int]] = []
    for s, e in spells:
        t = s
        for hs, he in holes:
            if he <= t or hs >= e:
                continue
            if hs > t:
                out.append((t, hs))
            t = max(t, he)
        if t < e:
            out.append((t, e))
    return out


def post_day(
    window: str,
    a: str,
    b: str | None,
    punches: Mapping[str, Sequence[Punch]],
    day: Day | None,
    iso_day: str,
    until_ns: int,
    touch_s: float = 2.0,
) -> PostDay:
    """The post's day up to `until_ns` (the day's end, or now for today); a day that is not a working
    day has no working time, so nothing is open or empty."""
    periods = [(s, min(e, until_ns)) for s, e in (day.periods() if day is not None else []) if s < until_ns]
    spells = {s: union(inside(effective(punches.get(s, ()), touch_s), until_ns)) for s in (a, b) if s}
    staffed = union(x for sp in spells.values() for x in sp)
    working = sum(e - s for s, e in periods) / 1e9
    open_s = _within(staffed, periods)
    covered = _within(_minus(spells[b], spells[a]), periods) if b else 0.0
    return PostDay(window, iso_day, working, open_s, working - open_s, covered)
