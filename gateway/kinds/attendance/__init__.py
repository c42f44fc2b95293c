"""Attendance machine (考勤机): staff clock in and out.

Its projection keeps every punch in the state database (one row per device, seq and time, so a
backlog uploaded out of order or twice changes nothing), sets aside punches with impossible dates
(a clock reset after a power cut), and knows who is on each window post (AB岗) and for how long
a post has been empty: over the configured limit in working time it is 空岗, an alert that clears
when someone returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.domain.attendance import (
    DailyRecord,
    Day,
    PostDay,
    PostState,
    Punch,
    clock_reset,
    daily,
    day_bounds,
    effective,
    inside,
    post_day,
    post_state,
)
from gateway.domain.calendar import WorkCalendar
from gateway.domain.canonical import Event
from gateway.domain.conditions import Condition
from gateway.kinds.attendance import words
from gateway.kinds.attendance.pages import PAGES
from gateway.kinds.attendance.settings import SETTINGS, AttendanceContext
from gateway.kinds.attendance.store import PunchStore
from gateway.kinds.base import Kind, low_battery
from gateway.kinds.reads import AttendanceDays, Presence
from gateway.store.staged import attach

if TYPE_CHECKING:
    from gateway.kinds.base import DeviceView, StateDatabase

PUNCH = "punch"
KIND_NAME = "attendance"


class AttendanceProjection:
    name = "attendance"

    def __init__(self, cfg: AttendanceContext, devices: Mapping[str, DeviceView]) -> None:
        self.tz = cfg.timezone
        self.zone = ZoneInfo(cfg.timezone)
        self.hours = cfg.working_hours
        self.calendar = WorkCalendar.of(self.hours.days, self.hours.holidays, self.hours.workdays)
        self.cfg = cfg.attendance
        self.posts = list(cfg.posts)
        self.machines = {d.id for d in devices.values() if d.kind == KIND_NAME}
        self.store: PunchStore | None = None
        self.counts: Counter[str] = Counter()  # new, resend, past, future
        self._day: str | None = None  # today's punches, per person (reloaded when the day turns)
        self._today: dict[str, list[Punch]] = {}
        self._watching: tuple[str, int] | None = None  # (day, since): when this gateway began watching the posts
        self._began: int | None = None  # this process's first look

    def attach(self, journal: StateDatabase) -> Callable[[], None]:
        self.store, close = attach(journal.path, PunchStore)
        return close

    def local_day(self, ts_ns: int) -> date:
        return datetime.fromtimestamp(ts_ns / 1e9, self.zone).date()

    def working_day(self, d: date) -> Day | None:
        if not self.calendar.is_working(d):
            return None
        lunch = (self.cfg.lunch.start, self.cfg.lunch.end) if self.cfg.lunch else None
        return Day.of(d, self.hours.start, self.hours.end, self.tz, lunch)

    def apply(self, event: Event, now_ns: int) -> None:
        if event.name != PUNCH or event.device not in self.machines or self.store is None:
            return
        f = event.fields
        staff = f.get("staff_id")
        if not isinstance(staff, str) or not staff:
            self.counts["no_staff"] += 1
            return
        p = Punch(
            event.device,
            event.seq,
            event.ts_ns,
            staff,
            str(f.get("method") or ""),
            str(f.get("direction") or "unknown"),
        )
        flag = clock_reset(p.ts_ns, now_ns, past_s=self.cfg.past_days * 86400, future_s=self.cfg.future_s)
        day = self.local_day(p.ts_ns).isoformat()
        if not self.store.add(p, day, flag, now_ns):
            self.counts["resend"] += 1
            return
        self.store.flush_soon()
        self.counts[flag or "new"] += 1
        if flag is None and day == self._day:
            self._today.setdefault(staff, []).append(p)

    def _load(self, now_ns: int) -> tuple[date, dict[str, list[Punch]]]:
        today = self.local_day(now_ns)
        if self._day != today.isoformat():
            assert self.store is not None
            self._today = self.store.day(today.isoformat())
            self._day = today.isoformat()
        return today, self._today

    def present(self, now_ns: int) -> dict[str, int]:
        """Staff clocked in now -> since when (their current spell today): `reads.Presence`."""
        if self.store is None:
            return {}
        # The cache of today's punches (reloaded when the day turns): no query per call.
        _, punches = self._load(now_ns)
        out = {}
        for staff, ps in punches.items():
            spells = inside(effective(ps, self.cfg.touch_s), now_ns)
            if spells and spells[-1][1] == now_ns:
                out[staff] = spells[-1][0]
        return out

    def spells(self, now_ns: int) -> dict[str, list[tuple[int, int]]]:
        """Today's in spells per person: `reads.Presence` (the discipline ledger's evidence)."""
        if self.store is None:
            return {}
        _, punches = self._load(now_ns)
        return {staff: inside(effective(ps, self.cfg.touch_s), now_ns) for staff, ps in punches.items()}

    def working_now(self, now_ns: int) -> bool:
        day = self.working_day(self.local_day(now_ns))
        return day is not None and day.working(now_ns)

    def post_states(self, now_ns: int) -> list[PostState]:
        if self.store is None:
            return []
        today, punches = self._load(now_ns)
        day = self.working_day(today)
        start, _ = day_bounds(today, self.tz)
        return [post_state(p.window, p.a, p.b, punches, day, start, now_ns, self.cfg.touch_s) for p in self.posts]

    def daily(self, d: date, now_ns: int) -> list[DailyRecord]:
        """Per person who punched that day, and every post's staff."""
        assert self.store is not None
        punches = self.store.day(d.isoformat())
        people = sorted({*punches, *(p.a for p in self.posts), *(p.b for p in self.posts if p.b)})
        day = self.working_day(d)
        return [
            daily(s, punches.get(s, ()), day, self.cfg.touch_s, self.cfg.late_grace_min * 60)
            for s in people
            if day is not None or punches.get(s)
        ]

    def post_days(self, d: date, now_ns: int) -> list[PostDay]:
        """`reads.Presence`: each post's day (open, 空岗, B covering A), for the operations reports."""
        if self.store is None:
            return []
        punches = self.store.day(d.isoformat())
        _, end = day_bounds(d, self.tz)
        day = self.working_day(d)
        until = min(end, now_ns)
        return [post_day(p.window, p.a, p.b, punches, day, d.isoformat(), until, self.cfg.touch_s) for p in self.posts]

    def first_day(self) -> str | None:
        """`AttendanceDays`: the first day of a punch kept (not those set aside as impossible)."""
        return self.store.first_day() if self.store is not None else None

    def set_aside(self) -> dict[str, int]:
        return self.store.set_aside() if self.store is not None else {}

    def over_limit(self, s: PostState, now_ns: int) -> bool:
        day = self.working_day(self.local_day(now_ns))
        if day is None or not day.working(now_ns):
            return False
        # An empty spell counts from when this gateway began watching today at the earliest: one
        # installed (or whose state was lost) at noon cannot tell who came in at nine.
        if self._began is None:
            self._began = now_ns
        today = self.local_day(now_ns)
        if self._watching is None or self._watching[0] != today.isoformat():
            self._watching = (today.isoformat(), max(day_bounds(today, self.tz)[0], self._began))
        watched_s = (now_ns - self._watching[1]) / 1e9
        return min(s.current_absence_s, watched_s) > self.cfg.absence_limit_min * 60

    def conditions(self, now_ns: int) -> list[Condition]:
        out = []
        for s in self.post_states(now_ns):
            if self.over_limit(s, now_ns):
                staff = f"A {s.a}" + (f", B {s.b}" if s.b else "")
                out.append(
                    Condition(
                        "post_empty",
                        f"window {s.window}",
                        "warning",
                        f"空岗: window {s.window} has nobody on it for {s.current_absence_s / 60:.0f} min ({staff})",
                        params={"window": s.window, "minutes": f"{s.current_absence_s / 60:.0f}", "staff": staff},
                    )
                )
        return out

    def state(self) -> dict[str, Any] | None:
        # Punches are in the state database as they arrive; only since when we watch is kept here.
        return None if self._watching is None else {"watching": list(self._watching)}

    def restore(self, state: dict[str, Any]) -> None:
        day, since = state.get("watching") or (None, None)
        if isinstance(day, str) and isinstance(since, int):
            self._watching = (day, since)


KIND = Kind(
    name=KIND_NAME,
    description="attendance machine (考勤机)",
    label="考勤机",
    params=frozenset({"zone"}),
    signals={PUNCH: frozenset({"staff_id"})},
    required={PUNCH: frozenset({"staff_id"})},  # a punch of nobody counts for no one
    rules=(low_battery,),
    projections=(AttendanceProjection,),
    stores=(PunchStore,),
    settings=SETTINGS,
    router="gateway.kinds.attendance.api:router",
    provides={Presence: AttendanceProjection, AttendanceDays: AttendanceProjection},
    errors=words.ERRORS,
    labels=words.LABELS,
    pages=PAGES,
    page_words=words.PAGE_WORDS,
    summaries=words.SUMMARIES,
)
