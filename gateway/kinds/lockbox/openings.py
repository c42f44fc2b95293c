"""Lockbox slots opened in working hours without a confirmed unlock: an alert a person closes.

Product rule: in working hours a slot opens only in an exceptional case, approved by the duty
manager through the unlock route. A `door_open` the desk cannot explain by an unlock it saw
confirmed (within the lock's release window) is such an opening. Outside working hours staff open
their own slots at the cabinet, and nothing is raised.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.commands.desk import CommandDesk
from gateway.commands.riders import Rider
from gateway.domain.calendar import Schedule
from gateway.domain.canonical import Event
from gateway.domain.conditions import Condition
from gateway.kinds.wiring import Parts, Running

RELEASE_WINDOW_NS = 15 * 10**9  # the lock releases for 5 s; the door may open at its very end, events lag
HOLD_NS = 5 * 10**9  # reported for a few ticks; the alert then stays until a person closes it


class OpeningWatch:
    def __init__(self, schedule: Schedule, zone: str, lockboxes: set[str]) -> None:
        self.schedule = schedule
        self.zone = ZoneInfo(zone)
        self.lockboxes = lockboxes
        self.released: dict[tuple[str, str], int] = {}  # (device, part) -> released until
        self.unexplained: dict[str, tuple[Condition, int]] = {}  # key -> (condition, reported until)

    def released_part(self, device: str, part: str, now_ns: int) -> None:
        self.released[(device, part)] = now_ns + RELEASE_WINDOW_NS
        # An answer that came after its door_open (a late one) explains that opening too.
        self.unexplained.pop(f"{device}/{part}", None)

    def on_event(self, e: Event, now_ns: int) -> None:
        if e.name != "door_open" or e.device not in self.lockboxes:
            return
        part = f"slot {e.fields.get('slot')}"
        if self.released.pop((e.device, part), 0) >= now_ns:
            return
        if not self.schedule.working(datetime.fromtimestamp(e.ts_ns / 1e9, self.zone)):
            return
        key = f"{e.device}/{part}"
        c = Condition(
            "opened_without_command",
            key,
            "critical",
            f"{e.device}: {part} opened in working hours without an approved unlock",
            e.device,
            manual=True,
            params={"part": part},
        )
        self.unexplained[key] = (c, now_ns + HOLD_NS)

    def conditions(self, now_ns: int) -> list[Condition]:
        for key in [k for k, (_, until) in self.unexplained.items() if until < now_ns]:
            del self.unexplained[key]
        for part in [p for p, until in self.released.items() if until < now_ns]:
            del self.released[part]
        return [c for c, _ in self.unexplained.values()]


def watch_openings(desk: CommandDesk) -> OpeningWatch | None:
    """Hook the watch into the desk (its events, its confirmed unlocks, its conditions)."""
    lockboxes = {d.id for d in desk.devices.values() if d.kind == "lockbox"}
    if not lockboxes:
        return None
    w = desk.cfg.working_hours
    watch = OpeningWatch(Schedule.of(w.days, w.start, w.end, w.holidays, w.workdays), desk.cfg.timezone, lockboxes)
    desk.riders.add(
        Rider("openings", on_event=watch.on_event, released=watch.released_part, conditions=watch.conditions)
    )
    return watch


def run(running: Running) -> Parts:
    """`Kind.runs`: the watch rides on the command desk, nothing else to start."""
    watch_openings(running.desk)
    return Parts()
