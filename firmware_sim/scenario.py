"""A day in the hall from a small YAML description: a seeded plan of actions, played at a speed.

    hall: ../../configs/demo-hall.yaml   # the hall (relative to this file), or `-c` on the command line
    seed: 42
    speed: 60                  # 1 = real time, 60 = an hour a minute
    day: {open: "09:00", close: "17:00", start: "08:30", end: "17:30"}
    arrivals: {9: 60, 10: 120, 11: 100, 12: 30, 13: 50, 14: 80, 15: 70, 16: 40}   # people an hour
    dwell_minutes: [15, 60]    # how long a visitor stays (IN, then OUT on the counters)
    served: 0.8                # share of visitors served at a window
    service_minutes: 12        # one service keeps a window busy this long
    services: {W01: [营业执照设立登记, 个体工商户变更登记], W02: [社保卡补办]}   # items per window
    ratings: {5: 95, 4: 3, 3: 1, 2: 0.6, 1: 0.4}   # the rating mix (weights), e.g. 99 % good
    unrated: 0.05              # prompts that expire without a rating
    staff:                     # per window: A post, B post, and when B covers for A
      - {window: W01, a: S0001, b: S0101, cover: ["10:30-11:30"]}
    lockbox: {deposit: 0.9}    # share of the staff who lock their phone away at the start of the day
    lockers: {deposits: 20, pickups: 15}   # items put into pickup lockers / collected in the day
    faults:                    # faults at a time of the day (see firmware_sim/faults.py); for_s in day time
      - {at: "10:30", fault: jam, device: lb-1f, slot: 3}

Windows without a `staff` entry get A = S{n:04d} and B = S{n+100:04d} (n = the window number). The
plan is a pure function of the description and the seed (`plan_day`), so the same seed gives the
same day; `ScenarioRunner` plays it against a running `HallSimulator`, one action at its time
(day time / speed). The devices' own random activity should be off (`rate_per_min=0`): the
scenario drives them.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from firmware_sim.faults import FaultError
from firmware_sim.kinds.attendance import AttendanceMachine
from firmware_sim.kinds.lockbox import Lockbox
from firmware_sim.kinds.people_counter import PeopleCounter
from firmware_sim.kinds.pickup_locker import DOORS, LockerBoard
from firmware_sim.kinds.rating_pad import RatingPad

log = logging.getLogger("firmware_sim.scenario")

DEFAULT_ARRIVALS = {8: 0, 9: 60, 10: 120, 11: 100, 12: 30, 13: 50, 14: 80, 15: 70, 16: 40}


class ScenarioError(ValueError):
    """A scenario the simulator cannot play; the message names the field."""


def _minutes(text: object, where: str) -> int:
    """ "09:30" -> 570."""
    try:
        hh, mm = str(text).split(":")
        value = int(hh) * 60 + int(mm)
    except ValueError:
        raise ScenarioError(f"{where}: expected HH:MM, not {text!r}") from None
    if not 0 <= value <= 24 * 60:
        raise ScenarioError(f"{where}: {text!r} is not a time of day")
    return value


@dataclass(frozen=True)
class Staff:
    window: str
    a: str
    b: str
    cover: tuple[tuple[int, int], ...] = ()  # minutes of the day when B covers for A


@dataclass(frozen=True)
class Scenario:
    seed: int | str = 0
    speed: float = 1.0
    open_min: int = 9 * 60
    close_min: int = 17 * 60
    start_min: int = 8 * 60 + 30
    end_min: int = 17 * 60 + 30
    arrivals: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_ARRIVALS))
    dwell_minutes: tuple[float, float] = (15.0, 60.0)
    served: float = 0.8
    service_minutes: float = 12.0
    ratings: Mapping[int, float] = field(default_factory=lambda: {5: 95, 4: 3, 3: 1, 2: 0.6, 1: 0.4})
    unrated: float = 0.05
    staff: tuple[Staff, ...] = ()
    services: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # window -> items handled there
    lockbox_deposit: float = 0.9
    locker_deposits: int = 20
    locker_pickups: int = 15
    faults: tuple[tuple[int, dict[str, Any]], ...] = ()
    hall: Path | None = None


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    if isinstance(source, Mapping):
        raw, where, folder = source, "<dict>", Path.cwd()
    else:
        where, folder = str(source), Path(source).resolve().parent
        try:
            raw = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ScenarioError(f"{where}: cannot read: {e}") from e
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a mapping at the top")
    known = {
        "hall", "seed", "speed", "day", "arrivals", "dwell_minutes", "served", "service_minutes",
        "ratings", "unrated", "staff", "services", "lockbox", "lockers", "faults",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    day = raw.get("day") or {}
    open_min = _minutes(day.get("open", "09:00"), f"{where}: day.open")
    close_min = _minutes(day.get("close", "17:00"), f"{where}: day.close")
    if close_min <= open_min:
        raise ScenarioError(f"{where}: day.close must be after day.open")
    start_min = _minutes(day.get("start", f"{(open_min - 30) // 60:02d}:{(open_min - 30) % 60:02d}"), "day.start")
    end_min = _minutes(day.get("end", f"{(close_min + 30) // 60:02d}:{(close_min + 30) % 60:02d}"), "day.end")
    speed = raw.get("speed", 1.0)
    if not isinstance(speed, int | float) or speed <= 0:
        raise ScenarioError(f"{where}: speed must be a positive number (1 = real time), not {speed!r}")
    arrivals = {int(str(h)): float(n) for h, n in (raw.get("arrivals") or DEFAULT_ARRIVALS).items()}
    if any(not 0 <= h <= 23 or n < 0 for h, n in arrivals.items()):
        raise ScenarioError(f"{where}: arrivals: hours 0-23 with people an hour >= 0")
    ratings = {int(k): float(v) for k, v in (raw.get("ratings") or {5: 95, 4: 3, 3: 1, 2: 0.6, 1: 0.4}).items()}
    if not set(ratings) <= {1, 2, 3, 4, 5} or sum(ratings.values()) <= 0:
        raise ScenarioError(f"{where}: ratings: weights for scores 1-5, e.g. {{5: 95, 4: 4, 1: 1}}")
    staff = []
    for i, entry in enumerate(raw.get("staff") or []):
        try:
            cover = tuple(
                (_minutes(c.split("-")[0], "cover"), _minutes(c.split("-")[1], "cover")) for c in entry.get("cover", [])
            )
            staff.append(Staff(str(entry["window"]), str(entry["a"]), str(entry["b"]), cover))
        except (KeyError, IndexError, AttributeError, ScenarioError) as e:
            raise ScenarioError(f'{where}: staff[{i}]: needs window, a, b and cover like ["10:30-11:30"] ({e})') from e
    faults = []
    for i, entry in enumerate(raw.get("faults") or []):
        if not isinstance(entry, Mapping) or "at" not in entry or "fault" not in entry:
            raise ScenarioError(f"{where}: faults[{i}]: needs `at: HH:MM` and `fault`")
        spec = {k: v for k, v in entry.items() if k != "at"}
        faults.append((_minutes(entry["at"], f"{where}: faults[{i}].at"), spec))
    services = raw.get("services") or {}
    if not isinstance(services, Mapping) or not all(
        isinstance(v, list) and v and all(isinstance(i, str) for i in v) for v in services.values()
    ):
        raise ScenarioError(f"{where}: services: a window -> a list of items, e.g. {{W01: [社保卡补办]}}")
    dwell = raw.get("dwell_minutes", [15, 60])
    lockers = raw.get("lockers") or {}
    hall = raw.get("hall")
    return Scenario(
        seed=raw.get("seed", 0),
        speed=float(speed),
        open_min=open_min,
        close_min=close_min,
        start_min=start_min,
        end_min=end_min,
        arrivals=arrivals,
        dwell_minutes=(float(dwell[0]), float(dwell[1])),
        served=float(raw.get("served", 0.8)),
        service_minutes=float(raw.get("service_minutes", 12)),
        ratings=ratings,
        unrated=float(raw.get("unrated", 0.05)),
        staff=tuple(staff),
        services={str(k): tuple(v) for k, v in services.items()},
        lockbox_deposit=float((raw.get("lockbox") or {}).get("deposit", 0.9)),
        locker_deposits=int(lockers.get("deposits", 20)),
        locker_pickups=int(lockers.get("pickups", 15)),
        faults=tuple(faults),
        hall=(folder / hall) if isinstance(hall, str) else None,
    )


@dataclass(frozen=True, order=True)
class Action:
    """One thing that happens at `at_s` seconds of day time after the scenario's start."""

    at_s: float
    order: int
    device: str = field(compare=False)
    op: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())


def plan_day(sc: Scenario, devices: Mapping[str, str], windows: Mapping[str, str]) -> list[Action]:
    """Every action of the day, in time order. `devices`: id -> kind; `windows`: rating pad id -> window.

    Pure and seeded: the same scenario and devices give the same plan."""
    rng = random.Random(f"scenario:{sc.seed}")
    actions: list[Action] = []
    start_s = sc.start_min * 60

    def at(minute: float, device: str, op: str, *args: Any) -> None:
        if sc.start_min <= minute <= sc.end_min:
            actions.append(Action(minute * 60 - start_s, len(actions), device, op, args))

    by_kind: dict[str, list[str]] = {}
    for dev, kind in devices.items():
        by_kind.setdefault(kind, []).append(dev)
    counters = by_kind.get("people_counter", [])
    pads = sorted(by_kind.get("rating_pad", []), key=lambda d: windows.get(d, d))
    machines = by_kind.get("attendance", [])
    boxes = by_kind.get("lockbox", [])
    boards = by_kind.get("pickup_locker", [])

    # staff: A at every window (or the scenario's list), B covers when A is away
    staff_by_window = {s.window: s for s in sc.staff}
    posts: list[Staff] = []
    for pad in pads:
        window = windows.get(pad, pad)
        digits = int("".join(c for c in window if c.isdigit()) or "0")
        posts.append(staff_by_window.get(window) or Staff(window, f"S{digits:04d}", f"S{digits + 100:04d}"))
    pad_of = {windows.get(p, p): p for p in pads}

    def on_duty(post: Staff, minute: float) -> str:
        return post.b if any(a <= minute < b for a, b in post.cover) else post.a

    for n, post in enumerate(posts):
        machine = machines[n % len(machines)] if machines else None
        arrive = sc.open_min - rng.uniform(5, 25)
        leave = sc.close_min + rng.uniform(2, 20)
        if machine:
            at(arrive, machine, "punch", post.a, "in")
            at(leave, machine, "punch", post.a, "out")
            for a, b in post.cover:  # A leaves the post, B punches in to cover, then the reverse
                at(a - 1, machine, "punch", post.a, "out")
                at(a, machine, "punch", post.b, "in")
                at(b, machine, "punch", post.b, "out")
                at(b + 1, machine, "punch", post.a, "in")
        # the phone goes into the staff member's lockbox slot at the start of the day
        if boxes and rng.random() < sc.lockbox_deposit:
            box = boxes[n % len(boxes)]
            slot = n // len(boxes) + 1
            at(arrive + 2, box, "deposit_phone", slot)
            at(leave - 2, box, "collect_phone", slot)

    # visitors: arrivals an hour (linear within the hour), dwell, a share served at a window
    window_free = {p.window: float(sc.open_min) for p in posts}
    for hour, per_hour in sorted(sc.arrivals.items()):
        count = _poisson(rng, per_hour)
        for _ in range(count):
            minute = hour * 60 + rng.uniform(0, 60)
            if not sc.open_min <= minute < sc.close_min:
                continue
            dwell = rng.uniform(*sc.dwell_minutes)
            for counter in counters:
                at(minute, counter, "people_in", 1)
                at(min(minute + dwell, sc.close_min + 10), counter, "people_out", 1)
            if posts and rng.random() < sc.served:
                post = min(posts, key=lambda p: window_free[p.window])
                begin = max(minute + 2, window_free[post.window])
                done = begin + sc.service_minutes * rng.uniform(0.5, 1.5)
                if done > sc.close_min:
                    continue  # turned away at closing time
                window_free[post.window] = done
                pad = pad_of[post.window]
                items = sc.services.get(post.window)
                item = rng.choice(items) if items else None
                if rng.random() < sc.unrated:
                    at(done, pad, "unrated", on_duty(post, begin), item)
                else:
                    score = rng.choices(list(sc.ratings), weights=list(sc.ratings.values()))[0]
                    at(done, pad, "rate", on_duty(post, begin), score, item)

    # pickup lockers: items deposited through the day, some collected
    if boards:
        doors = [(b, d) for b in boards for d in range(DOORS)]
        rng.shuffle(doors)
        used = doors[: sc.locker_deposits]
        for i, (board, door) in enumerate(used):
            put = rng.uniform(sc.open_min, sc.close_min - 30)
            at(put, board, "deposit_item", door)
            if i < sc.locker_pickups:
                at(rng.uniform(put + 10, sc.end_min), board, "pickup_item", door)

    for minute, spec in sc.faults:
        at(minute, "*", "fault", spec)
    actions.sort()
    return actions


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (arrivals in an hour): exponential gaps counted within one hour."""
    if mean <= 0:
        return 0
    n, t = 0, rng.expovariate(mean)
    while t < 1.0:
        n += 1
        t += rng.expovariate(mean)
    return n


class ScenarioRunner:
    """Plays a plan against a running hall simulator at the scenario's speed."""

    def __init__(self, hall: Any, scenario: Scenario, speed: float | None = None) -> None:
        self.hall = hall
        self.scenario = scenario
        self.speed = speed or scenario.speed
        windows = {d: s.window for d, s in hall.specs.items() if s.window}
        self.plan = plan_day(scenario, {d: s.kind for d, s in hall.specs.items()}, windows)
        self.done = 0
        self.counts: dict[str, int] = {}
        self.errors = 0

    def day_clock(self, elapsed_s: float) -> str:
        minute = self.scenario.start_min + elapsed_s * self.speed / 60
        return f"{int(minute // 60):02d}:{int(minute % 60):02d}"

    @property
    def length_s(self) -> float:
        return (self.scenario.end_min - self.scenario.start_min) * 60 / self.speed

    async def run(self) -> None:
        """Play every action at its time; returns at the end of the day."""
        started = time.monotonic()
        queue = list(self.plan)
        heapq.heapify(queue)
        while queue:
            action = heapq.heappop(queue)
            due = started + action.at_s / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._do(action)
        left = started + self.length_s - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)

    def _do(self, action: Action) -> None:
        try:
            if action.op == "fault":
                spec = dict(action.args[0])
                if "for_s" in spec:  # day time in the scenario; real time for the injector
                    spec["for_s"] = float(spec["for_s"]) / self.speed
                self.hall.inject(spec)
            else:
                getattr(self, f"_{action.op}")(self.hall.device(action.device), *action.args)
            self.counts[action.op] = self.counts.get(action.op, 0) + 1
        except (FaultError, KeyError, ValueError) as e:
            self.errors += 1
            log.warning("scenario action %s on %s failed: %s", action.op, action.device, e)
        self.done += 1

    # ---- what each action does to a device --------------------------------------------------
    def _punch(self, machine: AttendanceMachine, staff_id: str, direction: str) -> None:
        machine.punch(staff_id, direction=direction if machine.mode == "auto" else None)

    def _rate(self, pad: RatingPad, staff_id: str, score: int, item: str | None) -> None:
        pad.rate(score, staff_id=staff_id, item=item)

    def _unrated(self, pad: RatingPad, staff_id: str, item: str | None) -> None:
        pad.expire_prompt(staff_id=staff_id, item=item)

    def _people_in(self, counter: PeopleCounter, n: int) -> None:
        counter.add(n, 0)

    def _people_out(self, counter: PeopleCounter, n: int) -> None:
        counter.add(0, n)

    def _deposit_phone(self, box: Lockbox, slot: int) -> None:
        if slot in box.slots:
            box.slots[slot].locked = False
            box.open_door(slot)
            box.put_phone(slot)
            box.close_door(slot)

    def _collect_phone(self, box: Lockbox, slot: int) -> None:
        if slot in box.slots:
            box.slots[slot].locked = False
            box.open_door(slot)
            box.take_phone(slot)
            box.close_door(slot)

    # A locker door stays open LOCKER_OPEN_S of real time whatever the speed, so that a gateway
    # polling once a second sees it open and closed again.
    LOCKER_OPEN_S = 1.5

    def _deposit_item(self, board: LockerBoard, door: int) -> None:
        board.open_door(door)
        board._later(self.LOCKER_OPEN_S / 2, board.put_item, door)
        board._later(self.LOCKER_OPEN_S, board.close_door, door)

    def _pickup_item(self, board: LockerBoard, door: int) -> None:
        board.open_door(door)
        board._later(self.LOCKER_OPEN_S / 2, board.take_item, door)
        board._later(self.LOCKER_OPEN_S, board.close_door, door)
