"""Answers that come after a command's timeout.

A 504 says the device did not confirm in time, not that nothing happened: a slow cabinet may
open the slot and ack seconds later; a slow board's door may read open after the desk stopped
reading back. The audit keeps the timed-out row as written and gains a row of its own
(`opened_late` or `failed_late`, its latency from when the command was written, `amends` naming
the timed-out row), durable in the state database and in the outbox at the audit class. The
timeout's `command_unanswered` alert resolves, and so does an `opened_without_command` alert the
late opening raised before its answer came.

Where late answers come from: an MQTT device's ack for a command id nobody waits for (looked up
in the state database: it outlives a restart), and the poller's readings of a Modbus board whose
command timed out (watched for `LATE_WINDOW_NS`). An answer that arrives between the timeout
and its audit row's commit is held until the row is there.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.profiles.commands import Confirmation
from gateway.commands.ledger import CommandLedger
from gateway.domain.canonical import READING, Event
from gateway.domain.conditions import Condition
from gateway.store.journal import Journal

log = logging.getLogger(__name__)

LATE_WINDOW_NS = 600 * 10**9  # a board's door read open this long after a timeout still answers it
WATCH_LIMIT = 256  # Modbus commands watched at once (the newest; a hall has a few lockers)
UNANSWERED = "command_unanswered"


class AlertPort(Protocol):
    def raise_condition(self, c: Condition, now_ns: int) -> None: ...

    def resolve(self, rule: str, key: str, now_ns: int, since_ns: int = 0) -> None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    ok: bool
    error: str | None
    at_ns: int


@dataclass(frozen=True, slots=True)
class _Watch:
    """A Modbus command that timed out: its read-back goes on in the poller's readings."""

    device: str
    confirm: Confirmation
    stale_fault: bool  # a fault bit set before the pulse says nothing about it
    until_ns: int


class LateAnswers:
    def __init__(
        self,
        journal: Journal,
        export: Callable[[list[dict[str, Any]]], None],
        clock: Callable[[], int],
        stats: dict[str, int],
        released: Callable[[str, str, int], None] | None = None,
        alerts: AlertPort | None = None,
    ) -> None:
        self.ledger = CommandLedger(journal)
        self.export = export  # audit rows to the outbox (kept unexported and retried when it is full)
        self.clock = clock
        self.stats = stats
        self.alerts = alerts
        self.released = released  # (device, part, now): a slot opened late
        self._settling: dict[str, list[Answer]] = {}  # timed out, audit row not committed yet
        self._watches: OrderedDict[str, _Watch] = OrderedDict()  # command id -> its read-back
        stats.setdefault("late_amended", 0)

    # -- the desk says ---------------------------------------------------------------------------

    def timed_out(self, cmd_id: str, device: str | None = None, watch: tuple[Confirmation, bool] | None = None) -> None:
        """Called at the timeout, before the audit row is written."""
        self._settling[cmd_id] = []
        if device is not None and watch is not None:
            self._watches[cmd_id] = _Watch(device, watch[0], watch[1], self.clock() + LATE_WINDOW_NS)
            while len(self._watches) > WATCH_LIMIT:
                self._watches.popitem(last=False)

    def settled(self, cmd_id: str, device: str, part: str, action: str, detail: str) -> None:
        """The timed-out audit row is committed: raise its alert, then apply what came meanwhile."""
        held = self._settling.pop(cmd_id, [])
        if self.alerts is not None:
            text = f"{action}: {detail} (command {cmd_id})"
            said = {"part": part, "action": action, "cmd_id": cmd_id}
            c = Condition(UNANSWERED, f"{device}/{part}", "warning", text, device, True, said)
            self.alerts.raise_condition(c, self.clock())
        for a in held:
            self._amend(cmd_id, a)

    # -- answers -----------------------------------------------------------------------------------

    def answer(self, cmd_id: str, ok: bool, error: str | None, now_ns: int) -> bool:
        """An MQTT ack nobody waits for; True when it amended an audit record."""
        a = Answer(ok, error, now_ns)
        held = self._settling.get(cmd_id)
        if held is not None:
            held.append(a)
            return False
        return self._amend(cmd_id, a)

    def reading(self, e: Event, now_ns: int) -> None:
        """A poll of a board: does it answer a command that timed out?"""
        if e.name != READING or not self._watches:
            return
        for cmd_id, w in list(self._watches.items()):
            if w.until_ns < now_ns:
                del self._watches[cmd_id]
                continue
            if w.device != e.device:
                continue
            verdict = w.confirm.check(e.fields)
            if verdict == "failed" and w.stale_fault:
                held = bool(w.confirm.when) and all(c.holds(e.fields) for c in w.confirm.when)
                verdict = "confirmed" if held else "pending"
            if verdict != "pending":
                del self._watches[cmd_id]
                self.answer(cmd_id, verdict == "confirmed", None if verdict == "confirmed" else "jammed", now_ns)

    def _amend(self, cmd_id: str, a: Answer) -> bool:
        outcome = "opened_late" if a.ok else "failed_late"
        error = None if a.ok else (a.error or "refused")
        row = self.ledger.amend_audit(cmd_id, outcome, error, a.at_ns)
        if row is None:
            return False  # not a timed-out command (a repeat of an answered one), or amended already
        self.stats["late_amended"] += 1
        self.export([row])
        device, part = row["device"], row["part"] or ""
        log.warning(
            "%s %s %s answered late (%s, %s ms): audit %d amends %d",
            row["action"],
            device,
            part,
            outcome,
            row["latency_ms"],
            row["id"],
            row["amends"],
        )
        since = a.at_ns - int(row["latency_ms"] * 1e6) if row["latency_ms"] is not None else 0
        if self.alerts is not None:
            self.alerts.resolve(UNANSWERED, f"{device}/{part}", a.at_ns, since)
            if a.ok:
                self.alerts.resolve("opened_without_command", f"{device}/{part}", a.at_ns, since)
        if a.ok and self.released is not None:
            self.released(device, part, a.at_ns)
        return True
