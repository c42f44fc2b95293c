"""Occupancy per zone and for the whole hall from doorway counters' cumulative IN/OUT counts. Pure.

A counter's counts are cumulative: they wrap at the counter's width (2**32 for the reference
sensor) and restart at 0 when the sensor reboots or someone writes its reset register. Its uptime
dropping tells a reboot from a wrap; a count that went down by a step no hall could see in one
poll (more than `MAX_STEP` people) was reset, not wrapped, whether or not the uptime says so.

Occupancy is net flow (in minus out since the last reset) floored at 0: counters miss a few per
cent each way, and "minus three people" helps nobody. What the floor added is kept (`clamped`),
so the drift stays visible, and a nightly reset records what the zone still showed (`residual`)
when the hall was empty.

Flows are also summed into one-minute buckets per zone (by the samples' own time), which become
the occupancy series in InfluxDB and the gateway's own history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WRAP = 2**32
# More people than this between two polls of one doorway is not traffic but a reset (or a
# jump): an entrance sees a few thousand people a day.
MAX_STEP = 100_000
MINUTE_NS = 60 * 10**9
HALL = "*"  # the whole hall's figure, next to the zones (no zone id can be "*")


@dataclass(frozen=True, slots=True)
class Sample:
    in_total: int
    out_total: int
    uptime_s: int | None = None


def count_delta(prev_total: int, total: int, rebooted: bool, wrap: int = WRAP) -> int:
    """People counted since the previous sample, in one direction."""
    if rebooted:
        # Counted since the reboot/reset; what it counted before was lost with it. A value no
        # reset could explain (a jump far from 0) only moves the baseline.
        return total if total <= min(MAX_STEP, wrap // 2) else 0
    return (total - prev_total) % wrap


def rebooted(prev: Sample, s: Sample, wrap: int = WRAP) -> bool:
    """The counts restarted between the two samples (reboot, reset register, or a jump)."""
    if prev.uptime_s is not None and s.uptime_s is not None and s.uptime_s < prev.uptime_s:
        return True
    step = min(MAX_STEP, wrap // 2)
    # A wrap moves a count forward by a plausible step; anything else is a discontinuity.
    return any((t - p) % wrap > step for p, t in ((prev.in_total, s.in_total), (prev.out_total, s.out_total)))


@dataclass
class Doorway:
    zone: str
    from_zone: str | None
    last: Sample | None = None
    wrap: int = WRAP
    status: str = "ok"  # the sensor's own status: ok, lens_blocked, tampered, too_dark, ...
    last_ns: int | None = None  # when its newest sample was taken
    stale_ns: int = 10 * 10**9  # silent this long: its counts are suspect
    watched_ns: int | None = None  # when this run first asked: silence counts from then at the earliest

    def suspect(self, now_ns: int) -> str | None:
        """Why this doorway's counts cannot be trusted now, or None."""
        if self.status not in ("ok", "0"):
            return self.status
        # A gateway just started (or back after a stop) has not polled yet: not yet suspect.
        if self.watched_ns is None:
            self.watched_ns = now_ns
        if now_ns - max(self.last_ns or 0, self.watched_ns) > self.stale_ns:
            return "no samples"
        return None


@dataclass
class Bucket:
    """One zone's flow during one minute (start_ns is the minute's start, epoch ns)."""

    zone: str
    start_ns: int
    entered: int = 0
    left: int = 0
    occupancy: int = 0  # at the end of the minute (so far)
    clamped: int = 0


@dataclass
class Reset:
    zone: str
    at_ns: int
    residual: int  # what the zone still showed, with the hall closed: the day's drift
    clamped: int  # what the floor at 0 had added before it


@dataclass
class ZoneCount:
    zone: str
    capacity: int
    occupancy: int = 0
    entered: int = 0  # since the last reset
    left: int = 0
    clamped: int = 0  # how far below zero in - out would have gone since the last reset
    updated_ns: int | None = None
    reset_ns: int | None = None  # the figures count from here
    residual: int | None = None  # at the last reset
    residual_clamped: int | None = None
    over: bool = False  # over capacity (with hysteresis)
    bucket: Bucket | None = None

    @property
    def net(self) -> int:
        return self.entered - self.left

    def move(self, entered: int, left: int, ts_ns: int, minute_ns: int) -> None:
        self.entered += entered
        self.left += left
        raw = self.occupancy + entered - left
        # Counters miss a few per cent each way: never report fewer than nobody, but keep count.
        if raw < 0:
            self.clamped -= raw
        self.occupancy = max(0, raw)
        self.updated_ns = ts_ns if self.updated_ns is None else max(self.updated_ns, ts_ns)
        b = self.bucket
        if b is None:
            b = self.bucket = Bucket(self.zone, minute_ns)
        b.entered += entered
        b.left += left
        b.occupancy, b.clamped = self.occupancy, self.clamped

    def touch(self, ts_ns: int, minute_ns: int) -> None:
        """What move(0, 0) does, cheaply: a sample with no one passing, taken at ts_ns."""
        if self.updated_ns is None or ts_ns > self.updated_ns:
            self.updated_ns = ts_ns
        if self.bucket is None:
            self.bucket = Bucket(self.zone, minute_ns, occupancy=self.occupancy, clamped=self.clamped)

    def reset(self, at_ns: int) -> Reset:
        r = Reset(self.zone, at_ns, self.occupancy, self.clamped)
        self.residual, self.residual_clamped = self.occupancy, self.clamped
        self.occupancy = self.entered = self.left = self.clamped = 0
        self.reset_ns = at_ns
        self.over = False
        if self.bucket is not None:
            self.bucket.occupancy, self.bucket.clamped = 0, 0
        return r

    def check_capacity(self, open_pct: float, clear_pct: float) -> bool:
        """Over capacity opens at open_pct and clears only below clear_pct, so it does not flap."""
        if not self.over and self.occupancy * 100 >= self.capacity * open_pct:
            self.over = True
        elif self.over and self.occupancy * 100 < self.capacity * clear_pct:
            self.over = False
        return self.over


@dataclass
class Occupancy:
    zones: dict[str, ZoneCount]
    doorways: dict[str, Doorway] = field(default_factory=dict)
    hall: ZoneCount = field(default_factory=lambda: ZoneCount(HALL, 1))
    closed: list[Bucket] = field(default_factory=list)  # finished minutes not yet taken
    minute_ns: int = 0  # the newest minute a sample was taken in: the open one

    def sample(self, counter: str, s: Sample, now_ns: int) -> tuple[int, int]:
        """Fold one counter sample (taken at now_ns) in; returns the (in, out) counted since the last one."""
        self._roll(now_ns)
        door = self.doorways[counter]
        prev, door.last = door.last, s
        door.last_ns = now_ns if door.last_ns is None else max(door.last_ns, now_ns)
        if prev is None:
            return 0, 0  # the first sample only sets the baseline
        if (  # most polls: nobody passed and no reboot; the zones only learn the sample's time
            prev.in_total == s.in_total
            and prev.out_total == s.out_total
            and (prev.uptime_s is None or s.uptime_s is None or s.uptime_s >= prev.uptime_s)
        ):
            self.zones[door.zone].touch(now_ns, self.minute_ns)
            if door.from_zone is not None:
                self.zones[door.from_zone].touch(now_ns, self.minute_ns)
            else:
                self.hall.touch(now_ns, self.minute_ns)
            return 0, 0
        reset = rebooted(prev, s, door.wrap)
        d_in = count_delta(prev.in_total, s.in_total, reset, door.wrap)
        d_out = count_delta(prev.out_total, s.out_total, reset, door.wrap)
        self.zones[door.zone].move(d_in, d_out, now_ns, self.minute_ns)
        if door.from_zone is not None:
            self.zones[door.from_zone].move(d_out, d_in, now_ns, self.minute_ns)
        else:  # a doorway to the outside: the hall's own flow
            self.hall.move(d_in, d_out, now_ns, self.minute_ns)
        return d_in, d_out

    def _roll(self, ts_ns: int) -> None:
        """A sample in a new minute closes every zone's open minute. A sample late for a closed
        minute counts in the open one, so no minute is ever written twice with other figures."""
        minute = ts_ns - ts_ns % MINUTE_NS
        if minute <= self.minute_ns:
            return
        self.minute_ns = minute
        for z in self.all_zones():
            if z.bucket is not None:
                self.closed.append(z.bucket)
                z.bucket = None

    def all_zones(self) -> list[ZoneCount]:
        return [*self.zones.values(), self.hall]

    def take_closed(self) -> list[Bucket]:
        out, self.closed = self.closed, []
        return out

    def suspect(self, zone: str, now_ns: int) -> list[str]:
        """Why a zone's (or, for HALL, the hall's) counts are suspect: '<counter>: <why>' each."""
        return self.suspects(now_ns).get(zone, [])

    def suspects(self, now_ns: int) -> dict[str, list[str]]:
        """suspect() of every zone (and HALL) that has a suspect counter, in one pass."""
        out: dict[str, list[str]] = {}
        for name, d in self.doorways.items():
            why = d.suspect(now_ns)
            if why is not None:
                text = f"{name}: {why}"
                for zone in dict.fromkeys((d.zone, d.from_zone if d.from_zone is not None else HALL)):
                    out.setdefault(zone, []).append(text)
        return out


def last_due(now_ns: int, at: time, tz: str) -> int:
    """The most recent instant <= now_ns at which a daily reset at local time `at` was due."""
    zone = ZoneInfo(tz)
    now = datetime.fromtimestamp(now_ns / 1e9, zone)
    due = datetime.combine(now.date(), at, zone)
    if due > now:
        due = datetime.combine(now.date() - timedelta(days=1), at, zone)
    return int(due.timestamp()) * 10**9 + due.microsecond * 1000


def reset_due(z: ZoneCount, now_ns: int, at: time | None, tz: str) -> int | None:
    """When `z` should be reset (the scheduled instant), or None. A zone never reset before starts
    counting from now: the first run does not wipe what it has not seen."""
    if at is None:
        return None
    if z.reset_ns is None:
        z.reset_ns = now_ns
        return None
    due = last_due(now_ns, at, tz)
    return due if due > z.reset_ns else None
