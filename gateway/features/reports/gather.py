"""A period's inputs from the gateway's read APIs, for the hall, each window and each member of
staff. A source the hall lacks stays None (its figures then say so)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from gateway.config.hall import HallConfig
from gateway.domain.calendar import WorkCalendar
from gateway.domain.occupancy import HALL
from gateway.domain.periods import Span
from gateway.domain.rated_visits import VisitRates
from gateway.features.reports.gather_site import Site, SiteSources, gather_site
from gateway.features.reports.inputs import Inputs
from gateway.kinds.reads import AttendanceDays, DailyRecord, QueueFigures, RatingsRecord, Visits


class ViolationsRead(Protocol):
    def find(
        self, *, start_ns: int | None = None, end_ns: int | None = None, limit: int = 500
    ) -> list[dict[str, Any]]: ...


@dataclass
class Sources:
    calls: QueueFigures | None
    ratings: RatingsRecord | None
    visits: Visits | None
    clocking: AttendanceDays | None
    violations: ViolationsRead | None
    site: SiteSources = field(default_factory=SiteSources)


@dataclass
class Gathered:
    hall: Inputs
    windows: dict[str, Inputs]
    staff: dict[str, Inputs]
    departments: dict[str, Inputs]  # of the staff registry's people
    zones: dict[str, Inputs] = field(default_factory=dict)  # of the hall's zones
    days: dict[str, Inputs] = field(default_factory=dict)  # ISO date -> the hall's inputs that day (`daily`)

    def has_data(self) -> bool:
        h = self.hall
        return bool(
            (h.calls or {}).get("tickets")
            or h.ratings
            or any(d.punches for d in h.clocking or ())
            or any(b.entered for b in h.visitors or ())
            or h.lockers
        )


def gather(cfg: HallConfig, src: Sources, span: Span, now_ns: int, daily: bool = False) -> Gathered:
    """The period's inputs per scope; `daily`: also the hall's per day (the trend)."""
    start_ns, end_ns = span.bounds_ns(cfg.timezone)
    judged = min(end_ns, now_ns)
    dates = [] if judged <= start_ns else [d for d in span.dates() if d <= _day_of(judged - 1, cfg.timezone)]
    site = gather_site(src.site, [z.id for z in cfg.zones], dates, start_ns, judged)
    wh = cfg.working_hours
    cal = WorkCalendar.of(wh.days, wh.holidays, wh.workdays)
    working = frozenset(d.isoformat() for d in span.working_days(cal))

    q = src.calls
    q_hall = q.figures(start_ns, end_ns, None).get(None, {}) if q else None
    # each day's, while the queue still holds those days' figures in memory (it keeps the newest 100)
    q_days = {d: _day_calls(q, d, cfg.timezone, judged) for d in dates} if q is not None and daily else {}
    if q_hall is not None:  # 办件量 by result: the served transactions per outcome
        q_hall = q_hall | {"results": {k: v["served"] for k, v in q.figures(start_ns, end_ns, "outcome").items()}}  # type: ignore[union-attr]
    q_win = q.figures(start_ns, end_ns, "window") if q else {}
    q_staff = q.figures(start_ns, end_ns, "staff") if q else {}
    ratings = src.ratings.ratings_between(start_ns, end_ns) if src.ratings else None
    # 评价率's denominator: the served visits (none without a queue system, or without pads to rate them)
    rv: tuple[VisitRates, dict[str, dict[str, VisitRates]]] | None = None
    if src.ratings is not None and src.visits is not None:
        if ratings or (q_hall or {}).get("served"):
            rv = src.ratings.rated_visits(src.visits, start_ns, end_ns, ("window", "staff"))
        else:  # nothing served, nothing rated (a period before the hall's first day): no join to make
            rv = (VisitRates(), {"window": {}, "staff": {}})
    orders = src.ratings.orders_rated(start_ns, end_ns) if src.ratings else None
    days: list[tuple[date, DailyRecord]] | None = None
    if src.clocking is not None:
        days = [(d, r) for d in dates for r in src.clocking.daily(d, judged)]
    violations = src.violations.find(start_ns=start_ns, end_ns=end_ns, limit=100_000) if src.violations else None

    def scope(
        calls: dict[str, Any] | None, keep: Any, rated: tuple[str | None, str] = (None, ""), **place: Any
    ) -> Inputs:
        by, key = rated
        return Inputs(
            calls=calls,
            rated_visits=None if rv is None else rv[0] if by is None else rv[1][by].get(key, VisitRates()),
            ratings=None if ratings is None else [r for r in ratings if keep(r.window, r.staff)],
            orders=None if orders is None else [o for o in orders if keep(o.window, o.staff)],
            clocking=None if days is None else [r for _, r in days if keep(None, r.staff)],
            working_days=working,
            violations=None if violations is None else [v for v in violations if keep(v.get("window"), v.get("staff"))],
            start_ns=start_ns,
            end_ns=judged,
            days=len(dates),
            timezone=cfg.timezone,
            **place,
        )

    hall = scope(
        q_hall,
        lambda w, s: True,
        posts=site.posts,
        visitors=None if site.minutes is None else site.minutes[HALL],
        devices=site.devices,
        lockers=site.lockers,
    )
    post_staff = {p.window: {p.a, *([p.b] if p.b else [])} for p in cfg.posts}
    windows = sorted({str(k) for k in q_win if k} | {r.window for r in ratings or () if r.window} | set(post_staff))
    staff = sorted(
        {str(k) for k in q_staff if k}
        | {r.staff for r in ratings or () if r.staff}
        | {r.staff for _, r in days or ()}
        | {p.id for p in cfg.staff}
    )
    by_window = {
        w: scope(
            None if q is None else q_win.get(w, {}),
            # a window's 考勤: its posts' staff; its ratings and orders: those of the window
            lambda win, s, w=w: win == w if win is not None else s in post_staff.get(w, ()),
            ("window", w),
            posts=None if site.posts is None else [p for p in site.posts if p.window == w],
        )
        for w in windows
    }
    by_staff = {
        s: scope(None if q is None else q_staff.get(s, {}), lambda win, who, s=s: who == s, ("staff", s)) for s in staff
    }
    members: dict[str, set[str]] = {}
    for p in cfg.staff:
        if p.department:
            members.setdefault(p.department, set()).add(p.id)
    by_department = {}
    for dept, who in sorted(members.items()):
        sc = scope(None if q is None else _summed([q_staff.get(s, {}) for s in who]), lambda _, s, who=who: s in who)
        if rv is not None:
            sc.rated_visits = _rates([rv[1]["staff"].get(s, VisitRates()) for s in who])
        by_department[dept] = sc
    by_zone = {
        z.id: Inputs(
            visitors=None if site.minutes is None else site.minutes[z.id],
            devices=[d for d in site.devices if d.zone == z.id],
            start_ns=start_ns,
            end_ns=judged,
            days=len(dates),
            timezone=cfg.timezone,
        )
        for z in cfg.zones
    }
    by_day = _days(cfg, q_days, site, hall, dates) if daily else {}
    return Gathered(hall, by_window, by_staff, by_department, by_zone, by_day)


def _bounds(d: date, tz: str, judged: int) -> tuple[int, int]:
    a, b = Span("day", d.isoformat(), d, d).bounds_ns(tz)
    return a, min(b, judged)


def _day_calls(q: QueueFigures, d: date, tz: str, judged: int) -> dict[str, Any]:
    return q.figures(*_bounds(d, tz, judged), None).get(None, {})


def _days(
    cfg: HallConfig, q_days: dict[date, dict[str, Any]], site: Site, hall: Inputs, dates: list[date]
) -> dict[str, Inputs]:
    """The hall's inputs of each day: the queue's figures that day, the ratings, minutes, posts and
    locker items of the period cut at the day's bounds."""
    out = {}
    ratings = sorted(hall.ratings or (), key=lambda r: r.ts_ns) if hall.ratings is not None else None
    stamps = [r.ts_ns for r in ratings or ()]
    minutes = hall.visitors or []
    minute_starts = [b.start_ns for b in minutes]
    for d in dates:
        a, b = _bounds(d, cfg.timezone, hall.end_ns)
        calls = q_days.get(d) if hall.calls is not None else None
        out[d.isoformat()] = Inputs(
            calls=calls,
            ratings=None if ratings is None else ratings[bisect_left(stamps, a) : bisect_left(stamps, b)],
            posts=None if site.posts is None else [p for p in site.posts if p.day == d.isoformat()],
            visitors=None
            if hall.visitors is None
            else minutes[bisect_left(minute_starts, a) : bisect_left(minute_starts, b)],
            lockers=hall.lockers,
            start_ns=a,
            end_ns=b,
            days=1,
            timezone=cfg.timezone,
        )
    return out


COUNTS = ("tickets", "issued", "served", "no_shows", "transfers", "unissued")


def _summed(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A department's queue counts, its people's added up; its waiting and handling spreads cannot
    be (a median of medians is not the median): left out, and the figures say so."""
    return {k: sum(p.get(k, 0) for p in parts) for k in COUNTS} | {"spreads": False}


def _rates(parts: list[VisitRates]) -> VisitRates:
    return VisitRates(sum(p.served for p in parts), sum(p.rated for p in parts), sum(p.unrated for p in parts))


def _day_of(ts_ns: int, tz: str) -> date:
    return datetime.fromtimestamp(ts_ns / 1e9, ZoneInfo(tz)).date()
