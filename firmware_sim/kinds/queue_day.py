"""A day at the queue system (排队叫号), as a pure seeded model: no I/O, no clock.

`plan_day(config)` returns every event of the day in time order (seconds since midnight of the
virtual day) with the visit it belongs to; `firmware_sim/kinds/queue.py` publishes them.

The model:
- arrivals between `issue_from` and `issue_until` with a morning peak (around 10:00) and an
  after-lunch peak (around 14:30) (`ARRIVALS`, weights per hour); each ticket is for one business
  line (letter) chosen by the lines' shares and one item of that line; `appointment_share` of them
  are 预约 check-ins (`source: appointment`), served before walk-ins of their line;
- per-item handling times: lognormal around the item's median minutes (sigma `HANDLING_SIGMA`),
  scaled down when the windows could not otherwise serve the day's tickets in opening hours (a
  large hall that takes 3,000 tickets on 30 windows handles them faster);
- a window that is free calls the next ticket of its lines (appointments and transfers first,
  then the oldest); the citizen answers the first call, or a later one (`late_share`), or never
  (`no_show_share`): recalls every `RECALL_S` (`recall: true`), `no_show` after 3 unanswered calls;
- `transfer_share` of the served visits are transferred to another line (`transferred`, the
  ticket waits again in that line, ahead of walk-ins) and end there;
- the `lunch_windows` close for lunch: no call starts in `lunch`; a service under way finishes;
- windows open at `open_s`; tickets still waiting at closing time are served after it (a hall
  serves everyone who holds a ticket).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# people an hour, relative: a morning peak and an after-lunch peak
ARRIVALS: dict[int, float] = {8: 4, 9: 12, 10: 16, 11: 11, 12: 4, 13: 7, 14: 14, 15: 11, 16: 5}
HANDLING_SIGMA = 0.45
RECALL_S = 60.0
MAX_CALLS = 3
RESULTS = {"done": 86, "pending_materials": 10, "rejected": 4}


@dataclass(frozen=True)
class Line:
    letter: str
    name: str
    share: float
    items: tuple[tuple[str, float], ...]  # (item, median handling minutes)


DEFAULT_LINES = (
    Line("A", "商事登记", 0.35, (("营业执照设立登记", 9.0), ("个体工商户变更登记", 6.0))),
    Line("B", "社保医保", 0.30, (("社保卡补办", 4.0), ("医保参保登记", 5.0))),
    Line("C", "不动产登记", 0.20, (("不动产登记", 10.0), ("抵押登记", 8.0))),
    Line("D", "综合受理", 0.15, (("公积金提取", 5.0), ("居住证办理", 3.0))),
)


@dataclass(frozen=True)
class DayConfig:
    day: date
    windows: tuple[str, ...]
    serves: Mapping[str, tuple[str, ...]]  # window -> the line letters it calls
    lines: tuple[Line, ...] = DEFAULT_LINES
    tickets: int = 600
    seed: int | str = 0
    open_s: float = 9 * 3600
    close_s: float = 17 * 3600
    issue_from_s: float = 8.5 * 3600
    issue_until_s: float = 16.5 * 3600
    lunch: tuple[float, float] = (12 * 3600, 13 * 3600)
    lunch_windows: frozenset[str] = frozenset()
    appointment_share: float = 0.07
    no_show_share: float = 0.04
    late_share: float = 0.05  # answers a recall rather than the first call
    transfer_share: float = 0.03
    case_ids: Callable[[], str] | None = None  # default: 320111-{year}-{n:07d} from 1

    def staff(self, window: str) -> str:
        digits = "".join(c for c in window if c.isdigit()) or "0"
        return f"S{int(digits):04d}"  # what a rating pad at that window assumes by default

    def open_at(self, window: str, t: float, until: float) -> bool:
        """The window is open (staffed, not at lunch) at `t`; `until`: the end of service."""
        if window in self.lunch_windows and self.lunch[0] <= t < self.lunch[1]:
            return False
        return self.open_s <= t < max(self.close_s, until)


def default_serves(windows: tuple[str, ...], lines: tuple[Line, ...]) -> dict[str, tuple[str, ...]]:
    """Windows shared out to the lines by their shares (each line at least one window); with more
    windows than lines the last one is a 综合窗口 that calls every line, with fewer every window does."""
    letters = tuple(line.letter for line in lines)
    if len(windows) < len(lines):
        return {w: letters for w in windows}
    general = windows[-1:] if len(windows) > len(lines) else ()
    own = [w for w in windows if w not in general]
    total = sum(line.share for line in lines)
    counts = [max(1, round(len(own) * line.share / total)) for line in lines]
    while sum(counts) > len(own) and max(counts) > 1:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < len(own):
        counts[counts.index(min(counts))] += 1
    serves: dict[str, tuple[str, ...]] = {}
    i = 0
    for line, n in zip(lines, counts, strict=True):
        for w in own[i : i + n]:
            serves[w] = (line.letter,)
        i += n
    for w in own[i:] + list(general):
        serves[w] = letters
    return serves


@dataclass
class Visit:
    id: int
    ticket: str
    line: str
    item: str
    source: str
    issued_s: float
    answers_on: int | None  # the call the citizen answers (1-3), None: never (no-show)
    minutes: float
    result: str
    transfer_to: str | None
    ended: str = ""  # finished / no_show, at the end of the day


@dataclass(order=True)
class PlanEvent:
    t: float
    n: int  # order of events at the same time
    visit: int = field(compare=False)
    fields: dict[str, Any] = field(compare=False)


@dataclass
class DayPlan:
    config: DayConfig
    events: list[PlanEvent]
    visits: dict[int, Visit]
    ends_s: float  # the last event of the day


def _arrival_times(rng: random.Random, cfg: DayConfig) -> list[float]:
    spans = []
    for hour, weight in ARRIVALS.items():
        lo, hi = max(hour * 3600.0, cfg.issue_from_s), min((hour + 1) * 3600.0, cfg.issue_until_s)
        if hi > lo:
            spans.append((lo, hi, weight * (hi - lo)))
    if not spans:
        raise ValueError("no opening hours in which to issue tickets")
    weights = [s[2] for s in spans]
    return sorted(rng.uniform(lo, hi) for lo, hi, _ in rng.choices(spans, weights, k=cfg.tickets))


def _handling_scale(cfg: DayConfig) -> float:
    """Below 1 when the windows' time in opening hours could not serve the expected demand."""
    total = sum(line.share for line in cfg.lines)
    mean_min = sum(
        line.share / total * sum(m for _, m in line.items) / len(line.items) for line in cfg.lines
    ) * math.exp(HANDLING_SIGMA**2 / 2)
    demand = cfg.tickets * (mean_min * 60 + 90)  # plus calling and walking up
    lunch = (cfg.lunch[1] - cfg.lunch[0]) * len(cfg.lunch_windows)
    capacity = 0.75 * (len(cfg.windows) * (cfg.close_s - cfg.open_s) - lunch)
    return min(1.0, capacity / demand) if demand else 1.0


def _visits(rng: random.Random, cfg: DayConfig) -> list[Visit]:
    by_letter = {line.letter: line for line in cfg.lines}
    shares = [line.share for line in cfg.lines]
    scale = _handling_scale(cfg)
    numbers: dict[str, int] = {}
    visits = []
    for i, t in enumerate(_arrival_times(rng, cfg)):
        line = rng.choices(cfg.lines, shares)[0]
        item, median = rng.choice(line.items)
        numbers[line.letter] = numbers.get(line.letter, 0) + 1
        u = rng.random()
        answers = None if u < cfg.no_show_share else rng.choice((2, 3)) if u < cfg.no_show_share + cfg.late_share else 1
        others = [x for x in by_letter if x != line.letter]
        transfer = rng.choice(others) if others and answers and rng.random() < cfg.transfer_share else None
        minutes = min(60.0, max(0.5, rng.lognormvariate(math.log(median * scale), HANDLING_SIGMA)))
        visits.append(
            Visit(
                id=i,
                ticket=f"{line.letter}{numbers[line.letter]:03d}",
                line=line.letter,
                item=item,
                source="appointment" if rng.random() < cfg.appointment_share else "walk_in",
                issued_s=t,
                answers_on=answers,
                minutes=minutes,
                result=rng.choices(list(RESULTS), list(RESULTS.values()))[0],
                transfer_to=transfer,
            )
        )
    return visits


class _Day:
    """The discrete-event simulation behind `plan_day`."""

    def __init__(self, cfg: DayConfig, rng: random.Random, visits: list[Visit]) -> None:
        self.cfg, self.rng, self.visits = cfg, rng, {v.id: v for v in visits}
        self.events: list[PlanEvent] = []
        self.heap: list[tuple[float, int, str, Any]] = []
        self.n = 0
        # per line: (priority queue, walk-in queue) of visit ids
        self.queues = {line.letter: (deque[int](), deque[int]()) for line in cfg.lines}
        self.idle = set(cfg.windows)
        self.calls: dict[str, int] = {}  # window -> calls of the ticket it is calling
        self.transferred: set[int] = set()
        if cfg.case_ids is not None:
            self.case_ids = cfg.case_ids
        else:
            counter = iter(range(1, 10**7))
            self.case_ids = lambda: f"320111-{cfg.day.year}-{next(counter):07d}"

    def later(self, t: float, what: str, arg: Any) -> None:
        self.n += 1
        heapq.heappush(self.heap, (t, self.n, what, arg))

    def emit(self, t: float, visit: Visit, fields: dict[str, Any]) -> None:
        self.n += 1
        self.events.append(PlanEvent(t, self.n, visit.id, {"ticket": visit.ticket, **fields}))

    def run(self) -> list[PlanEvent]:
        for v in self.visits.values():
            self.later(v.issued_s, "arrive", v.id)
        for w in self.cfg.windows:
            self.later(self.cfg.open_s, "back", w)
            if w in self.cfg.lunch_windows:
                self.later(self.cfg.lunch[1], "back", w)
        while self.heap:
            t, _, what, arg = heapq.heappop(self.heap)
            getattr(self, f"_{what}")(t, *arg) if isinstance(arg, tuple) else getattr(self, f"_{what}")(t, arg)
        return self.events

    def _waiting(self, line: str) -> int:
        prio, walk = self.queues[line]
        return len(prio) + len(walk)

    def _arrive(self, t: float, vid: int) -> None:
        v = self.visits[vid]
        prio, walk = self.queues[v.line]
        ahead = len(prio) if v.source == "appointment" else len(prio) + len(walk)
        fields = {"type": "issued", "line": v.line, "item": v.item, "source": v.source, "waiting_ahead": ahead}
        self.emit(t, v, fields)
        (prio if v.source == "appointment" else walk).append(vid)
        self._wake(t, v.line)

    def _wake(self, t: float, line: str) -> None:
        for w in sorted(self.idle):
            if line in self.cfg.serves[w] and self._open(w, t):
                self._free(t, w)
                return

    def _open(self, w: str, t: float) -> bool:
        lunch = self.cfg.lunch
        return t >= self.cfg.open_s and not (w in self.cfg.lunch_windows and lunch[0] <= t < lunch[1])

    def _back(self, t: float, w: str) -> None:
        """Opening time or the end of lunch: an idle window starts calling (a busy one goes on)."""
        if w in self.idle:
            self._free(t, w)

    def _free(self, t: float, w: str) -> None:
        """Window `w` is free at `t`: it calls the next ticket of its lines, or waits."""
        self.idle.add(w)
        if not self._open(w, t):
            return  # opening time or the end of lunch wakes it
        best: tuple[int, float, int] | None = None  # (walk-in?, since, visit)
        for line in self.cfg.serves[w]:
            for rank, q in enumerate(self.queues[line]):
                if q:
                    since = self.visits[q[0]].issued_s
                    if best is None or (rank, since) < best[:2]:
                        best = (rank, since, q[0])
                    break
        if best is None:
            return
        vid = best[2]
        v = self.visits[vid]
        self.queues[v.line][best[0]].popleft()
        self.idle.discard(w)
        self.calls[w] = 0
        self._call(t, w, vid)

    def _call(self, t: float, w: str, vid: int) -> None:
        v = self.visits[vid]
        self.calls[w] += 1
        n = self.calls[w]
        fields: dict[str, Any] = {"type": "called", "window": w, "staff_id": self.cfg.staff(w)}
        if n > 1:
            fields["recall"] = True
        self.emit(t, v, fields)
        answers = 1 if vid in self.transferred else v.answers_on
        if answers == n:
            self.later(t + self.rng.uniform(20, 90), "start", (w, vid))
        elif n < MAX_CALLS:
            self.later(t + RECALL_S, "call", (w, vid))
        else:
            self.later(t + RECALL_S, "no_show", (w, vid))

    def _no_show(self, t: float, w: str, vid: int) -> None:
        v = self.visits[vid]
        v.ended = "no_show"
        self.emit(t, v, {"type": "no_show", "window": w})
        self._free(t, w)

    def _start(self, t: float, w: str, vid: int) -> None:
        v = self.visits[vid]
        self.emit(t, v, {"type": "started", "window": w, "staff_id": self.cfg.staff(w)})
        minutes = v.minutes * (0.4 if v.transfer_to and vid not in self.transferred else 1.0)
        self.later(t + minutes * 60, "end", (w, vid))

    def _end(self, t: float, w: str, vid: int) -> None:
        v = self.visits[vid]
        if v.transfer_to and vid not in self.transferred:
            self.transferred.add(vid)
            self.emit(t, v, {"type": "transferred", "from_window": w, "to_line": v.transfer_to})
            v.line = v.transfer_to
            self.queues[v.line][0].append(vid)  # transfers wait ahead of walk-ins
            v.issued_s = t  # waits in the new line from now
            self._wake(t, v.line)
        else:
            v.ended = "finished"
            fields = {"type": "finished", "window": w, "staff_id": self.cfg.staff(w)}
            self.emit(t, v, fields | {"case_id": self.case_ids(), "result": v.result})
        self.later(t + self.rng.uniform(10, 40), "free", w)  # wrapping up before the next call


def plan_day(cfg: DayConfig) -> DayPlan:
    """Every event of the day, in time order (seeded: the same config gives the same day)."""
    if cfg.tickets < 0:
        raise ValueError(f"tickets: must be 0 or more, not {cfg.tickets}")
    missing = [w for w in cfg.windows if not cfg.serves.get(w)]
    if missing:
        raise ValueError(f"windows {missing} serve no line")
    letters = {line.letter for line in cfg.lines}
    for line in cfg.lines:
        if not any(line.letter in cfg.serves[w] for w in cfg.windows):
            raise ValueError(f"line {line.letter}: no window calls it")
    for w, served in cfg.serves.items():
        if set(served) - letters:
            raise ValueError(f"window {w}: unknown lines {sorted(set(served) - letters)}")
    rng = random.Random(f"queue-day:{cfg.seed}:{cfg.day.isoformat()}")
    visits = _visits(rng, cfg)
    originals = {v.id: (v.line, v.issued_s) for v in visits}
    day = _Day(cfg, rng, visits)
    events = sorted(day.run())
    for v in visits:  # the model moved transferred visits; keep what the ticket was issued for
        v.line, v.issued_s = originals[v.id]
    return DayPlan(cfg, events, day.visits, events[-1].t if events else cfg.open_s)
