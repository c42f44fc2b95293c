"""Commands to Modbus boards: the profile's writes (a coil pulse), confirmed by reading back the
door sensor or the lock-fault bit (a written coil proves nothing). Commands in flight on one board
share each read-back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drivers.modbus import ModbusFailure, ModbusLine
from drivers.profiles.commands import Confirmation, encode_modbus_command
from drivers.profiles.model import ModbusProfile
from gateway.commands.request import Request
from gateway.commands.senders import Attempt, Heard, Verdict, cancel_all
from gateway.devices import DeviceEntry
from gateway.domain.canonical import Event

log = logging.getLogger(__name__)

READ_BACK_PERIOD_S = 0.005  # between read-backs of a Modbus board (shared by its commands in flight)


@dataclass
class _Reads:
    next: asyncio.Future[dict[str, Any] | None] | None = None  # what the next read answers
    task: asyncio.Task[Any] | None = None


class ModbusSender:
    remembers_s: float | None = None  # a restart reads back only: never a second pulse

    def __init__(self, lines: Mapping[str, ModbusLine]) -> None:
        self.lines = lines  # filled by the runtime as it opens the Modbus lines
        self._reads: dict[str, _Reads] = {}  # board -> its shared read-back
        self._tasks: set[asyncio.Task[Any]] = set()

    def check(self, d: DeviceEntry, req: Request) -> None:
        encode_modbus_command(_profile(d), req.op, req.params)

    def unavailable(self) -> str | None:
        return None  # a line that does not answer shows in the first read: `offline`

    async def send(self, d: DeviceEntry, attempt: Attempt) -> Verdict:
        req, m = attempt.req, d.config.modbus
        assert m is not None and d.plan is not None
        wire = encode_modbus_command(_profile(d), req.op, req.params)
        confirm = wire.confirm or Confirmation((), (), 5.0)
        limit = attempt.timeout_s or confirm.timeout_s
        line = self.lines[m.bus]
        deadline = time.monotonic() + limit
        before = await self._fresh(d)
        if before is None:
            if attempt.sent_before:
                return Verdict(
                    "timeout", "no_answer", f"{d.id} did not answer after the gateway restarted", (confirm, False)
                )
            return Verdict("offline", "no_answer", f"{d.id} did not answer: nothing was written")
        if not attempt.sent_before:
            refused = attempt.check(before) if attempt.check is not None else None
            if refused is not None:
                return Verdict("refused", refused.code, refused.detail)
            if confirm.when and confirm.check(before) == "confirmed":
                return Verdict("refused", "already_open", f"{req.part} of {d.id} is already open: nothing was written")
        # A fault bit left over from an earlier pulse proves nothing about this one.
        stale_fault = any(c.holds(before) for c in confirm.fail_when)
        if not attempt.sent_before:
            await attempt.sending()  # from here on, never written again
            try:
                for w in wire.writes:
                    await line.write(m.unit, w.table, w.address, w.value)
            except ModbusFailure as e:
                log.warning("%s: writing %s failed (%s); reading back whether it took", d.id, req.op, e)
        verdict = "pending"
        while time.monotonic() < deadline:
            values = await self._fresh(d)
            if values is not None:
                verdict = confirm.check(values)
                if verdict == "failed" and stale_fault:
                    verdict = "confirmed" if all(c.holds(values) for c in confirm.when) and confirm.when else "pending"
                if verdict != "pending":
                    break
            await asyncio.sleep(READ_BACK_PERIOD_S)
        if verdict == "confirmed":
            return Verdict("confirmed", None, f"{d.id}: {req.part} read back open")
        if verdict == "failed" or stale_fault:
            return Verdict("failed", "jammed", f"{d.id}: the lock of {req.part} did not open (lock-fault bit)")
        # The poller's readings may still answer it (late.py).
        detail = f"{d.id}: {req.part} not read back open within {limit:g} s"
        return Verdict("timeout", "no_answer", detail, (confirm, stale_fault))

    async def _fresh(self, d: DeviceEntry) -> dict[str, Any] | None:
        """The board's values from a read that starts after this call (None: it did not answer).

        Commands in flight on one board share each read: 20 doors confirmed at once cost the
        line one read a round, not twenty.
        """
        reads = self._reads.setdefault(d.id, _Reads())
        if reads.next is None:
            reads.next = asyncio.get_running_loop().create_future()
        waiter = reads.next
        if reads.task is None or reads.task.done():
            reads.task = asyncio.ensure_future(self._reader(d, reads))
            self._tasks.add(reads.task)
            reads.task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(waiter)

    async def _reader(self, d: DeviceEntry, reads: _Reads) -> None:
        m, plan = d.config.modbus, d.plan
        assert m is not None and plan is not None
        line = self.lines[m.bus]
        while reads.next is not None:
            waiter, reads.next = reads.next, None
            try:
                values: dict[str, Any] | None = await line.read_plan(m.unit, plan)
            except ModbusFailure:
                values = None
            if not waiter.done():
                waiter.set_result(values)

    def heard(self, d: DeviceEntry, event: Event) -> Heard | None:
        return None  # a board answers nothing by itself: the desk reads it back

    def snapshot(self, d: DeviceEntry) -> None:
        return None  # its poller reads it anyway

    async def aclose(self) -> None:
        await cancel_all(self._tasks)


def _profile(d: DeviceEntry) -> ModbusProfile:
    assert isinstance(d.profile, ModbusProfile), f"{d.id} is not a Modbus device"
    return d.profile
