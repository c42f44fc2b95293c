"""Queue system (排队叫号系统), wire kind `queue`: the hall's ticketing and calling server, one
device per hall, mains powered.

It plays a day of the model in `firmware_sim/kinds/queue_day.py` (seeded) and publishes on
`hall/{site}/queue/{device}/`:
- `event` (QoS 1, `seq` persistent like every MQTT device, `ts` the virtual day's time):
  `issued`, `called` (`recall: true` on a repeat call), `started`, `finished` (`case_id`, `result`),
  `transferred` (`from_window`, `to_line`), `no_show` (after 3 unanswered calls);
- `snapshot` (retained, QoS 1): `{"ts", "lines": [{"line","name","waiting","open_windows"}]}` every
  `snapshot_s` seconds of day time while the day plays and every `snapshot_s` real seconds before
  and after it, queued with the events (a snapshot never runs ahead of the events it counts; none
  is stored while offline: it is state), and first thing after each (re)connect, before the
  events stored meanwhile. No heartbeat: the snapshot is its periodic message.

`speed`: day time runs that many times real time, or "full": as fast as the broker acknowledges
(QoS 1; the player waits while more than `BACKLOG_HIGH` events are unsent, so nothing is dropped).
The day starts playing at the first connection, from its beginning, or from `start` ("HH:MM" or
"now", the hall's clock): the events before it are not published (only counted in the snapshot),
as a gateway meets a server mid-day: calls and ends of tickets it never saw issued.

Ratings: when a visit finishes at window W, the rating pad of W in the same hall (a `RatingPad`
whose `window` is W, found through `HallShare.devices`) is prompted as the window terminal would:
same `case_id` (from the hall's shared `CaseNumbers`), `ticket`, `staff_id` and `item`; the pad
rates it or lets the prompt expire (`unrated`), a few seconds of day time after the finish.

Faults: the common ones (`backlog` queues the next events of the day at once, `repeat` sends the
last ones again with the same seq; `clock_drift` shifts `ts`), and its own `duplicated_day`: the
queue server restarts mid-day (an abrupt drop, the will, a reconnect) and, having lost its
counters, numbers the tickets issued after the restart from A001 again the same day. Visits under
way keep their numbers, so `(day, ticket)` then names two different visits (an earlier one, ended
or still waiting, and a new one); only the order of `issued` events tells them apart.

Hall file options (`sim:`): `windows` (a count, W01..Wnn, or a list of names), `tickets`, `lines`
(a list of `{line: A, name: 商事登记, share: 0.35, items: {营业执照设立登记: 9}, windows: [W01]}`:
items with their median handling minutes; `windows` optional, by default the windows are shared out
by the lines' shares and the last one calls every line), `lunch_windows` (default every third
window from W01) and `lunch` ("12:00-13:00"), `hours` ("09:00-17:00", the windows) and `issuing`
("08:30-16:30", the ticket machine), `appointment_share`, `no_show_share`, `late_share`,
`transfer_share`, `speed`, `date` (YYYY-MM-DD, default today), `snapshot_s`, `start`, `loop` (true:
the day over, the server starts it over at once; `day_done` is set after the first).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiomqtt

from firmware_sim.common import CST
from firmware_sim.kinds.base import HallShare, KindFault, SimKind
from firmware_sim.kinds.queue_day import (
    DEFAULT_LINES,
    DayConfig,
    Line,
    PlanEvent,
    default_serves,
    plan_day,
)
from firmware_sim.kinds.queue_state import Relabeller, Waiting
from firmware_sim.mqtt_device import MqttDevice
from firmware_sim.spec import DeviceSpec

BACKLOG_HIGH = 500  # at full speed, the player waits while more events than this are unsent
LINE_KEYS = {"line", "name", "share", "items", "windows"}


def _clock(text: Any, what: str) -> float:
    try:
        hh, mm = str(text).split(":")
        value = int(hh) * 3600 + int(mm) * 60
    except ValueError:
        raise ValueError(f"{what}: expected HH:MM, not {text!r}") from None
    if not 0 <= value <= 24 * 3600:
        raise ValueError(f"{what}: expected HH:MM, not {text!r}")
    return float(value)


def _span(text: Any, what: str) -> tuple[float, float]:
    start, sep, end = str(text).partition("-")
    lo, hi = _clock(start, what), _clock(end if sep else "", what)
    if hi <= lo:
        raise ValueError(f"{what}: the end must come after the start, not {text!r}")
    return lo, hi


def _share(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{what}: must be a number 0-1, not {value!r}")
    return float(value)


def _lines(raw: Any, windows: tuple[str, ...]) -> tuple[tuple[Line, ...], dict[str, tuple[str, ...]]]:
    """The `lines` option: the lines and, where given, the windows calling each."""
    if raw is None:
        return DEFAULT_LINES, default_serves(windows, DEFAULT_LINES)
    if not isinstance(raw, list) or not raw:
        raise ValueError("lines: must be a non-empty list of {line, name, share, items, windows}")
    lines, own = [], {}
    for i, entry in enumerate(raw):
        where = f"lines[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be a mapping")
        unknown = sorted(set(entry) - LINE_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(LINE_KEYS)}")
        letter = entry.get("line")
        if not isinstance(letter, str) or len(letter) != 1 or not letter.isupper():
            raise ValueError(f"{where}.line: must be one capital letter, not {letter!r}")
        items = entry.get("items") or {}
        if not isinstance(items, Mapping) or not items:
            raise ValueError(f"{where}.items: must map each item to its median handling minutes")
        for item, minutes in items.items():
            if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0.5 <= minutes <= 240:
                raise ValueError(f"{where}.items.{item}: median minutes must be 0.5-240, not {minutes!r}")
        share = entry.get("share", 1.0 / len(raw))
        if isinstance(share, bool) or not isinstance(share, int | float) or share <= 0:
            raise ValueError(f"{where}.share: must be a positive number, not {share!r}")
        lines.append(Line(letter, str(entry.get("name", letter)), float(share), tuple(items.items())))
        if entry.get("windows") is not None:
            named = entry["windows"]
            if not isinstance(named, list) or not all(w in windows for w in named):
                raise ValueError(f"{where}.windows: must list windows of {list(windows)}, not {named!r}")
            own[letter] = named
    letters = [line.letter for line in lines]
    if len(set(letters)) != len(letters):
        raise ValueError(f"lines: a letter appears twice in {letters}")
    serves = default_serves(windows, tuple(lines))
    if own:
        serves = {w: tuple(x for x in letters if w in own.get(x, ())) for w in windows}
        for w in windows:  # windows no line names call every line without its own windows
            serves[w] = serves[w] or tuple(x for x in letters if x not in own) or tuple(letters)
    return tuple(lines), serves


class QueueSystem(MqttDevice):
    kind = "queue"
    wirekind = "queue"
    model = "QS-8000"
    fw = "5.2.0"
    max_backlog = 100_000
    retained_channels = frozenset({"snapshot"})

    def __init__(
        self,
        device_id: str,
        *,
        windows: int | list[str] = 12,
        tickets: int = 600,
        lines: list[dict[str, Any]] | None = None,
        lunch_windows: list[str] | None = None,
        lunch: str = "12:00-13:00",
        hours: str = "09:00-17:00",
        issuing: str = "08:30-16:30",
        appointment_share: float = 0.07,
        no_show_share: float = 0.04,
        late_share: float = 0.05,
        transfer_share: float = 0.03,
        speed: float | str = 60.0,
        date: str | None = None,
        snapshot_s: float = 60.0,
        start: str | None = None,
        loop: bool = False,
        hall: HallShare | None = None,
        seed: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(device_id, seed=seed, **kwargs)
        if isinstance(windows, int) and not isinstance(windows, bool):
            if not 1 <= windows <= 999:
                raise ValueError(f"windows: must be 1-999, not {windows}")
            names = tuple(f"W{n:02d}" for n in range(1, windows + 1))
        elif isinstance(windows, list) and windows and all(isinstance(w, str) and w for w in windows):
            names = tuple(windows)
        else:
            raise ValueError(f"windows: a number or a list of window names, not {windows!r}")
        if isinstance(tickets, bool) or not isinstance(tickets, int) or not 0 <= tickets <= 100_000:
            raise ValueError(f"tickets: must be 0-100000, not {tickets!r}")
        if speed == "full":
            self.speed = math.inf
        elif isinstance(speed, int | float) and not isinstance(speed, bool) and speed > 0:
            self.speed = float(speed)
        else:
            raise ValueError(f"speed: a positive number or 'full', not {speed!r}")
        if isinstance(snapshot_s, bool) or not isinstance(snapshot_s, int | float) or snapshot_s <= 0:
            raise ValueError(f"snapshot_s: must be a positive number of seconds, not {snapshot_s!r}")
        try:
            day = datetime.now(CST).date() if date is None else datetime.strptime(str(date), "%Y-%m-%d").date()
        except ValueError:
            raise ValueError(f"date: expected YYYY-MM-DD, not {date!r}") from None
        lunchers = names[::3] if lunch_windows is None else tuple(lunch_windows)
        if set(lunchers) - set(names):
            raise ValueError(f"lunch_windows: {sorted(set(lunchers) - set(names))} are not windows")
        line_list, serves = _lines(lines, names)
        open_s, close_s = _span(hours, "hours")
        issue_from, issue_until = _span(issuing, "issuing")
        if start is not None and start != "now":
            _clock(start, "start")
        self.start = start
        self.hall = hall
        self.loop, self.rounds, self._dated, self._seed = bool(loop), 1, date is not None, f"{seed}:{device_id}"
        config = DayConfig(
            day=day,
            windows=names,
            serves=serves,
            lines=line_list,
            tickets=tickets,
            seed=self._seed,
            open_s=open_s,
            close_s=close_s,
            issue_from_s=issue_from,
            issue_until_s=issue_until,
            lunch=_span(lunch, "lunch"),
            lunch_windows=frozenset(lunchers),
            appointment_share=_share(appointment_share, "appointment_share"),
            no_show_share=_share(no_show_share, "no_show_share"),
            late_share=_share(late_share, "late_share"),
            transfer_share=_share(transfer_share, "transfer_share"),
            case_ids=hall.case_numbers.next if hall is not None else None,
        )
        self.snapshot_s = float(snapshot_s)
        self._set_day(config)
        self._pads: dict[str, Any] | None = None
        self.playing = False
        self.day_done = asyncio.Event()
        self.ratings = 0  # prompts sent to rating pads
        self.play_began = self.play_took = 0.0  # when the day started playing (monotonic), how long it took

    def _set_day(self, config: DayConfig) -> None:
        self.config, self.plan = config, plan_day(config)
        self.relabel = Relabeller()
        self.waiting = Waiting(config, self.plan.ends_s)
        self._pending: deque[PlanEvent] = deque(self.plan.events)
        self._midnight = datetime(config.day.year, config.day.month, config.day.day, tzinfo=CST)
        first = self.plan.events[0].t if self.plan.events else config.issue_from_s
        self._vnow = min(config.issue_from_s, first)

    def _new_round(self) -> None:
        """`loop`: the server starts its day over, as a restart the same day (tickets from A001
        again, each a new generation for the gateway; other visits, new case ids); after midnight
        with the new date (unless `date` was given)."""
        self.rounds += 1
        day = self.config.day if self._dated else datetime.now(CST).date()
        self._set_day(replace(self.config, day=day, seed=f"{self._seed}:r{self.rounds}"))

    # ---- the virtual day's clock -----------------------------------------------------------
    def at(self, t: float) -> str:
        """The device clock's reading at day time `t` (seconds since midnight), faults included."""
        drift = self.drift_s_per_day * (time.monotonic() - self._drift_since) / 86400 if self.drift_s_per_day else 0.0
        moment = self._midnight + timedelta(seconds=t + self.clock_offset_s + drift)
        return moment.isoformat(timespec="milliseconds")

    def ts(self) -> str:
        return self.at(self._vnow)

    # ---- what it publishes -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"ts": self.ts(), "lines": self.waiting.snapshot(self._vnow)}

    def _snapshot_payload(self) -> str:
        return json.dumps(self.snapshot(), ensure_ascii=False, separators=(",", ":"))

    def queue_snapshot(self) -> None:
        """A snapshot in line with the events (only when connected: it is state, not an event)."""
        if self.connected.is_set():
            self._outbox.append(("snapshot", self._snapshot_payload()))
            self._outbox_changed.set()

    def play(self, event: PlanEvent) -> dict[str, Any]:
        """Publish one event of the plan (its `ts` is its own day time) and prompt the pad."""
        fields = self.relabel.apply(event)
        self.waiting.apply(PlanEvent(event.t, event.n, event.visit, fields))
        sent = self.emit({**fields, "ts": self.at(event.t)})
        if fields["type"] == "finished":
            self._prompt_pad(event, fields)
        return sent

    def _prompt_pad(self, event: PlanEvent, fields: dict[str, Any]) -> None:
        pad = self.pads().get(fields["window"])
        if pad is None:
            return
        item = self.plan.visits[event.visit].item
        after = self.rng.uniform(5, 40)  # the citizen taps the pad a few seconds later
        try:
            pad.prompt(
                case_id=fields["case_id"],
                staff_id=fields["staff_id"],
                ticket=fields["ticket"],
                item=item,
                ts=self.at(event.t + after),
            )
        except Exception as e:  # a pad that refuses (already rated) must not stop the day
            self.last_error = f"rating pad {pad.device_id}: {e}"
            return
        self.ratings += 1

    def pads(self) -> dict[str, Any]:
        """The rating pads of the hall by window (found once; they stop making up ratings)."""
        if self._pads is None:
            self._pads = {}
            devices = self.hall.devices.values() if self.hall is not None else ()
            for device in devices:
                if getattr(device, "kind", None) == "rating_pad" and device.window in self.config.windows:
                    self._pads.setdefault(device.window, device)
                    device.driven_by = self.device_id
        return self._pads

    def burst_event(self) -> None:
        """`backlog` fault: the next event of the day, now (the day runs ahead)."""
        if self._pending:
            self.play(self._pending.popleft())

    def duplicate_day(self) -> None:
        """`duplicated_day` fault: the server restarts and numbers tickets from A001 again."""
        self.relabel.restart()
        self.reboot()

    # ---- the firmware ----------------------------------------------------------------------
    def _skip_to_start(self) -> None:
        """`start`: the events before it happened before the server was started: state only."""
        if self.start is None:
            return
        now = datetime.now(CST)
        skip_to = now.hour * 3600 + now.minute * 60 + now.second if self.start == "now" else _clock(self.start, "")
        while self._pending and self._pending[0].t < skip_to:
            event = self._pending.popleft()
            self.waiting.apply(PlanEvent(event.t, event.n, event.visit, self.relabel.apply(event)))
        self._vnow = max(self._vnow, skip_to)

    async def run(self) -> None:
        self.pads()
        self._skip_to_start()
        self.spawn(self._play())
        await super().run()

    async def _live(self, client: aiomqtt.Client) -> None:
        await client.publish(self.channel("snapshot"), self._snapshot_payload(), qos=1, retain=True, timeout=10.0)
        self.published += 1
        await super()._live(client)

    async def _heartbeats(self, client: aiomqtt.Client) -> None:
        """No heartbeat: once the day is over the snapshot is repeated every `snapshot_s` s."""
        while True:
            await asyncio.sleep(self.snapshot_s)
            if not self.playing:
                self.queue_snapshot()  # behind any event still unsent

    async def _play(self) -> None:
        await self.connected.wait()
        while True:
            await self._play_day()
            self.day_done.set()  # the first day played (a looping server goes on)
            if not self.loop:
                return
            self._new_round()
            self.queue_snapshot()

    async def _play_day(self) -> None:
        self.playing = True
        start = self._vnow
        began = self.play_began = time.monotonic()
        next_snap = start + self.snapshot_s
        while self._pending:
            t = self._pending[0].t
            while next_snap <= t:
                await self._until(next_snap, start, began)
                self.queue_snapshot()
                next_snap += self.snapshot_s
            await self._until(t, start, began)
            if self._pending and self._pending[0].t <= self._vnow:
                self.play(self._pending.popleft())
            while self.backlog > BACKLOG_HIGH:  # at full speed: no faster than the broker acks
                await asyncio.sleep(0.005)
        self._vnow = max(self._vnow, self.plan.ends_s)
        self.queue_snapshot()
        self.playing = False
        self.play_took = time.monotonic() - began

    async def _until(self, t: float, start: float, began: float) -> None:
        """Wait until day time `t` (at `speed`), then make it the device's day time."""
        if self.speed != math.inf:
            delay = began + (t - start) / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        self._vnow = max(self._vnow, t)

    async def wait_day(self, timeout: float = 120.0) -> None:
        """Wait until the whole day was played and every event acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        await asyncio.wait_for(self.day_done.wait(), timeout)
        await self.wait_sent(max(deadline - time.monotonic(), 0.1))


def _options(spec: DeviceSpec, hall: HallShare) -> dict[str, Any]:
    return {"hall": hall}


def _duplicated_day(device: QueueSystem, params: Mapping[str, Any]) -> None:
    device.duplicate_day()


KIND = SimKind(
    QueueSystem.kind, "mqtt", QueueSystem, options=_options, faults={"duplicated_day": KindFault(_duplicated_day)}
)
