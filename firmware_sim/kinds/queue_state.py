"""What the queue server keeps as it plays a day (firmware_sim/kinds/queue_day.py): the ticket
numbers it gives, and who waits in which line (what its retained `snapshot` reports). Pure."""

from __future__ import annotations

from typing import Any

from firmware_sim.kinds.queue_day import DayConfig, PlanEvent


class Relabeller:
    """Ticket numbers as the queue server gives them: the plan's, until `restart()` (the server
    restarted and lost its counters): tickets issued after it start again at A001 the same day,
    so `(day, ticket)` repeats for different visits. A visit keeps the number it was issued with."""

    def __init__(self) -> None:
        self.restarted = False
        self._numbers: dict[str, int] = {}
        self._tickets: dict[int, str] = {}

    def restart(self) -> None:
        self.restarted = True
        self._numbers.clear()

    def apply(self, event: PlanEvent) -> dict[str, Any]:
        fields = event.fields
        if fields["type"] == "issued" and self.restarted:
            letter = fields["line"]
            self._numbers[letter] = self._numbers.get(letter, 0) + 1
            self._tickets[event.visit] = f"{letter}{self._numbers[letter]:03d}"
        ticket = self._tickets.get(event.visit)
        return fields if ticket is None else {**fields, "ticket": ticket}


class Waiting:
    """Who waits in which line, from the events (what the retained `snapshot` reports)."""

    def __init__(self, cfg: DayConfig, ends_s: float) -> None:
        self.cfg, self.ends_s = cfg, ends_s
        self.lines: dict[str, set[int]] = {line.letter: set() for line in cfg.lines}

    def apply(self, event: PlanEvent) -> None:
        fields = event.fields
        kind = fields["type"]
        if kind == "issued":
            self.lines[fields["line"]].add(event.visit)
        elif kind == "transferred":
            self.lines[fields["to_line"]].add(event.visit)
        elif kind == "called" and not fields.get("recall"):
            for waiting in self.lines.values():
                waiting.discard(event.visit)

    def snapshot(self, t: float) -> list[dict[str, Any]]:
        cfg = self.cfg
        return [
            {
                "line": line.letter,
                "name": line.name,
                "waiting": len(self.lines[line.letter]),
                "open_windows": [
                    w for w in cfg.windows if line.letter in cfg.serves[w] and cfg.open_at(w, t, self.ends_s)
                ],
            }
            for line in cfg.lines
        ]
