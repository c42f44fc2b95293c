"""Attendance (考勤) and window posts (AB岗). Pure: punches and the clock in, figures out.

Every figure is a function of the set of punches (deduplicated on device, seq and time before they
get here), never of the order they arrived in: a backlog uploaded out of order, or twice, gives
what a clean upload gives. Within that set one touch that gave two punches (the same person within
`touch_s`) counts once, and `direction: unknown` is worked out from the person's sequence that
day: the first punch is in, then each punch is the opposite of the one before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NS = 10**9


@dataclass(frozen=True, slots=True)
class Punch:
    device: str
    seq: int | None
    ts_ns: int
    staff: str
    method: str = ""
    direction: str = "unknown"  # in, out, unknown


def clock_reset(ts_ns: int, now_ns: int, *, past_s: float, future_s: float = 86400) -> str | None:
    """Why a punch's date is impossible (a device clock reset after a power cut), or None."""
    if ts_ns > now_ns + future_s * NS:
        return "future"
    if ts_ns < now_ns - past_s * NS:
        return "past"
    return None


def effective(punches: Iterable[Punch], touch_s: float = 2.0) -> list[tuple[Punch, str]]:
    """One person's punches of one day, in time order, a double touch counted once, each with
    its direction ('in' or 'out')."""
    kept: list[Punch] = []
    for p in sorted(punches, key=lambda p: (p.ts_ns, p.device, p.seq or 0)):
        if kept and p.ts_ns - kept[-1].ts_ns <= touch_s * NS:
            continue  # the same touch
        kept.append(p)
    out: list[tuple[Punch, str]] = []
    for p in kept:
        guessed = "in" if not out or out[-1][1] == "out" else "out"
        out.append((p, p.direction if p.direction in ("in", "out") else guessed))
    return out


@dataclass(frozen=True, slots=True)
class Day:
    """A working day's hours in epoch ns, the lunch break taken out of the working time."""

    start_ns: int
    end_ns: int
    lunch: tuple[int, int] | None = None

    @classmethod
    def of(cls, d: date, start: time, end: time, tz: str, lunch: tuple[time, time] | None = None) -> Day:
        z = ZoneInfo(tz)

        def at(t: time) -> int:
            return int(datetime.combine(d, t, z).timestamp() * NS)

        return cls(at(start), at(end), (at(lunch[0]), at(lunch[1])) if lunch else None)

    def periods(self) -> list[tuple[int, int]]:
        if self.lunch is None:
            return [(self.start_ns, self.end_ns)]
        a, b = self.lunch
        return [
            (s, e) for s, e in ((self.start_ns, min(a, self.end_ns)), (max(b, self.start_ns), self.end_ns)) if s < e
        ]

    def working(self, ts_ns: int) -> bool:
        return any(s <= ts_ns < e for s, e in self.periods())


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass
class DailyRecord:
    staff: str
    first_in_ns: int | None = None
    last_out_ns: int | None = None
    late: bool = False
    early_leave: bool = False
    missing: list[str] = field(default_factory=list)  # what is missing: "in", "out", "out before in 10:02" ...
    punches: int = 0


def daily(
    staff: str, punches: Iterable[Punch], day: Day | None, touch_s: float = 2.0, late_grace_s: float = 0
) -> DailyRecord:
    """First in, last out, late, early leave and missing punches of one person's day (`day` None: not a
    working day, so nobody is late)."""
    seq = effective(punches, touch_s)
    rec = DailyRecord(staff, punches=len(seq))
    ins = [p.ts_ns for p, d in seq if d == "in"]
    outs = [p.ts_ns for p, d in seq if d == "out"]
    rec.first_in_ns = ins[0] if ins else None
    rec.last_out_ns = outs[-1] if outs else None
    if not ins:
        rec.missing.append("in")
    if not outs or (ins and outs[-1] < ins[-1]):
        rec.missing.append("out")
    prev = None
    for _, d in seq:
        if d == prev:
            rec.missing.append(f"{'out' if d == 'in' else 'in'} between two {d}s")
        prev = d
    if day is not None:
        rec.late = rec.first_in_ns is not None and rec.first_in_ns > day.start_ns + late_grace_s * NS
        rec.early_leave = rec.last_out_ns is not None and rec.last_out_ns < day.end_ns and "out" not in rec.missing
    return rec


@dataclass(frozen=True, slots=True)
class PostState:
    window: str
    a: str
    b: str | None
    on_post: str | None  # who is on it now
    since_ns: int | None  # on it (or empty) since
    covered: bool  # B is on it for A
    empty_since_ns: int | None  # nobody on it since (within today), None when staffed
    absence_s_today: float  # working time (lunch excluded) with nobody on it, up to now
    current_absence_s: float  # of the current empty spell, working time only


def inside(seq: Sequence[tuple[Punch, str]], until_ns: int) -> list[tuple[int, int]]:
    """The spells a person was in, from the start of the day to `until_ns`."""
    spells, since = [], None
    for p, d in seq:
        if p.ts_ns > until_ns:
            break
        if d == "in" and since is None:
            since = p.ts_ns
        elif d == "out" and since is not None:
            spells.append((since, p.ts_ns))
            since = None
    if since is not None:
        spells.append((since, until_ns))
    return spells


def union(spells: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spells):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def post_state(
    window: str,
    a: str,
    b: str | None,
    punches: dict[str, list[Punch]],
    day: Day | None,
    day_start_ns: int,
    now_ns: int,
    touch_s: float = 2.0,
) -> PostState:
    """Who is on a post now and how long it has been empty today (working time only)."""
    seqs = {s: effective(punches.get(s, ()), touch_s) for s in (a, b) if s}
    spells = {s: inside(q, now_ns) for s, q in seqs.items()}
    on = next((s for s in (a, b) if s and spells[s] and spells[s][-1][1] == now_ns), None)
    staffed = union(x for s in spells.values() for x in s)
    gaps, t = [], day_start_ns
    for s, e in staffed:
        if s > t:
            gaps.append((t, s))
        t = max(t, e)
    if t < now_ns:
        gaps.append((t, now_ns))
    periods = day.periods() if day is not None else []
    absent = sum(overlap(g, p) for g in gaps for p in periods) / NS
    current = gaps[-1] if on is None and gaps and gaps[-1][1] == now_ns else None
    current_s = sum(overlap(current, p) for p in periods) / NS if current else 0.0
    since = spells[on][-1][0] if on else (current[0] if current else None)
    return PostState(
        window, a, b, on, since, on is not None and on != a, current[0] if current else None, absent, current_s
    )


def day_bounds(d: date, tz: str) -> tuple[int, int]:
    z = ZoneInfo(tz)
    start = datetime.combine(d, time(0), z)
    end = datetime.combine(d + timedelta(days=1), time(0), z)
    return int(start.timestamp() * NS), int(end.timestamp() * NS)


# -- a window post's day as the operations reports count it: how long it was open (开放量), empty
# (空岗) and covered by its B for an absent A (AB 顶岗). Only working time counts (lunch taken out): a
# post nobody staffs at night is not 空岗. A post is open while its A or its B is clocked in.


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
