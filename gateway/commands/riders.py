"""What rides on the desk: what kinds and features add to it (gateway/kinds/wiring.py), e.g. a
pickup desk, a watch of unexplained door openings, the phone compliance. Each registers once,
with the parts it has; the desk calls them in the order they registered (the hub's events, a
confirmed unlock, its alert conditions, each second's tick, the state kept through a restart)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.domain.canonical import Event


@dataclass(frozen=True, slots=True)
class Rider:
    name: str
    on_event: Callable[[Event, int], None] | None = None  # every event the hub brings up
    released: Callable[[str, str, int], None] | None = None  # (device, part, now): an unlock confirmed
    conditions: Callable[[int], list[Any]] | None = None  # what it asks the alert desk to hold open
    tick: Callable[[int], None] | None = None  # each second, with the time (pickup reminders)
    state: tuple[Callable[[], Any], Callable[[Any], None]] | None = None  # kept through the hub's state saving


class Riders:
    def __init__(self) -> None:
        self._all: list[Rider] = []

    def add(self, rider: Rider) -> None:
        self._all.append(rider)

    def event(self, event: Event, now_ns: int) -> None:
        for r in self._all:
            if r.on_event is not None:
                r.on_event(event, now_ns)

    def released(self, device: str, part: str, now_ns: int) -> None:
        for r in self._all:
            if r.released is not None:
                r.released(device, part, now_ns)

    def conditions(self, now_ns: int) -> list[Any]:
        return [c for r in self._all if r.conditions is not None for c in r.conditions(now_ns)]

    def tick(self, now_ns: int) -> None:
        for r in self._all:
            if r.tick is not None:
                r.tick(now_ns)

    def state(self) -> dict[str, Any] | None:
        return {r.name: r.state[0]() for r in self._all if r.state is not None} or None

    def restore(self, state: dict[str, Any]) -> None:
        for r in self._all:
            if r.state is not None and r.name in state:
                r.state[1](state[r.name])
