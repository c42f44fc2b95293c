"""Modbus transport: one pymodbus async client, one lock and one poller per physical line.

A line is a TCP endpoint (Modbus TCP, or RTU over TCP through a serial server) or a serial port.
Only one request is in flight per line; each device keeps its own period and backoff, and a
device that stops answering backs off, so its timeouts cannot take its neighbours' turns. Knows
nothing of lockers or counters: registers in, values out.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from drivers.backoff import full_jitter
from drivers.profiles.modbus_map import ReadPlan

log = logging.getLogger(__name__)

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}


class ModbusFailure(Exception):
    """A poll or write that did not succeed: the line is down, the device silent, or it refused.

    `cause` says which, for counting: `no_connection`, `timeout`, `exception` (the device refused
    with a Modbus exception) or `io` (anything else on the wire).
    """

    def __init__(self, message: str, cause: str = "io") -> None:
        super().__init__(message)
        self.cause = cause


class DeviceRefused(ModbusFailure):
    """The device answered with a Modbus exception (its map or the profile is wrong)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception {code} ({_EXCEPTION_NAMES.get(code, 'unknown')})", "exception")


_READS: dict[str, type[ModbusPDU]] = {
    "input": ReadInputRegistersRequest,
    "holding": ReadHoldingRegistersRequest,
    "discrete": ReadDiscreteInputsRequest,
    "coil": ReadCoilsRequest,
}


def _cause(e: Exception) -> str:
    # pymodbus reports a device that did not answer as ModbusIOException "No response received".
    if isinstance(e, TimeoutError) or "no response" in str(e).lower():
        return "timeout"
    return "no_connection" if isinstance(e, ConnectionError) else "io"


@dataclass(frozen=True, slots=True)
class LineSettings:
    host: str | None = None
    port: int = 502
    serial: str | None = None
    baudrate: int = 9600
    framer: Literal["socket", "rtu"] = "socket"
    timeout_s: float = 1.0

    @property
    def name(self) -> str:
        return self.serial or f"{self.host}:{self.port}"


@dataclass
class LineStats:
    requests: int = 0
    failures: int = 0
    reconnects: int = 0
    last_error: str | None = None
    latency_ms: float | None = None  # moving average of successful requests


class ModbusLine:
    def __init__(self, settings: LineSettings) -> None:
        self.settings = settings
        self.stats = LineStats()
        self._lock = asyncio.Lock()
        self._reads: dict[tuple[int, str, int, int], ModbusPDU] = {}
        s = settings
        framer = FramerType.RTU if s.framer == "rtu" else FramerType.SOCKET
        # Our pollers own reconnect timing (backoff with jitter per device), so pymodbus's
        # own reconnect and retries are off.
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if s.serial:
            self._client = AsyncModbusSerialClient(
                s.serial, framer=FramerType.RTU, baudrate=s.baudrate, timeout=s.timeout_s, retries=0, reconnect_delay=0
            )
        else:
            assert s.host is not None
            self._client = AsyncModbusTcpClient(
                s.host, port=s.port, framer=framer, timeout=s.timeout_s, retries=0, reconnect_delay=0
            )

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        self.stats.reconnects += 1
        if not await self._client.connect():
            raise ModbusFailure(f"cannot connect to {self.settings.name}", "no_connection")

    async def _call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """One request through the pymodbus client's own call (writes), alone on the line. pymodbus
        times the answer out itself; our scope only bounds a library that hangs."""
        return await self._guarded(lambda: fn(*args, **kwargs), self.settings.timeout_s * 2)

    async def _guarded(self, request: Callable[[], Awaitable[Any]], timeout_s: float) -> Any:
        """One request, alone on the line: connects first, counts, and turns every failure into a
        ModbusFailure (closing the connection, so the next request starts clean)."""
        async with self._lock:
            self.stats.requests += 1
            started = time.perf_counter()
            try:
                if not self._client.connected:
                    await self._ensure_connected()
                # A timeout scope, not wait_for: no task per request (a thousand polls a second).
                async with asyncio.timeout(timeout_s):
                    reply = await request()
            except (ModbusException, OSError, TimeoutError) as e:
                self.stats.failures += 1
                self.stats.last_error = f"{type(e).__name__}: {e}"
                self._client.close()
                if self.settings.serial or self.settings.framer == "rtu":
                    # RTU frames carry no transaction id: a late reply would be taken as the answer
                    # to the next request. Keep the line quiet until it would have arrived.
                    await asyncio.sleep(self.settings.timeout_s)
                raise ModbusFailure(f"{self.settings.name}: {type(e).__name__}: {e}", _cause(e)) from e
            if reply.isError():
                self.stats.failures += 1
                err = DeviceRefused(getattr(reply, "exception_code", 0))
                self.stats.last_error = str(err)
                raise err
            ms = (time.perf_counter() - started) * 1000
            self.stats.latency_ms = ms if self.stats.latency_ms is None else 0.9 * self.stats.latency_ms + 0.1 * ms
            return reply

    def _exchange(self, pdu: ModbusPDU) -> asyncio.Future[ModbusPDU]:
        """Send one request through pymodbus's framer and protocol; the future is its answer.

        What the client's `execute` does, minus its own lock and wait_for (a task and a timer per
        request): our line lock already makes this the only request in flight, and `_guarded`
        times it out. The framer still checks the answer's unit id and transaction id."""
        ctx = self._client.ctx
        pdu.transaction_id = ctx.getNextTID()
        ctx.recv_buffer = b""
        future = ctx.response_future = asyncio.get_running_loop().create_future()
        ctx.pdu_send(pdu)
        return future

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int] | list[bool]:
        key = (unit, table, address, count)
        pdu = self._reads.get(key)
        if pdu is None:
            make = _READS.get(table)
            if make is None:
                raise ValueError(f"unknown register table {table!r}")
            # Built once per device and request: a poll only stamps a new transaction id on it.
            pdu = self._reads[key] = make(address=address, count=count, dev_id=unit)
        reply = await self._guarded(lambda: self._exchange(pdu), self.settings.timeout_s)
        return reply.bits[:count] if table in ("coil", "discrete") else reply.registers

    async def write(self, unit: int, table: str, address: int, value: int | bool) -> None:
        if table == "coil":
            await self._call(self._client.write_coil, address, bool(value), device_id=unit)
        elif table == "holding":
            await self._call(self._client.write_register, address, int(value), device_id=unit)
        else:
            raise ValueError(f"table {table!r} is read-only")

    async def read_plan(self, unit: int, plan: ReadPlan) -> dict[str, Any]:
        responses: list[Sequence[Any]] = []
        for r in plan.requests:
            responses.append(await self.read(unit, r.table, r.address, r.count))
        return plan.decode(responses)

    def close(self) -> None:
        self._client.close()


# Polls start on this grid (s): the devices due in one tick go back to back, and every line
# wakes at the same instants, so a hall's polls cost a few wake-ups per period, not one each.
TICK_S = 0.1

PollResult = Callable[[dict[str, Any] | None, ModbusFailure | None, int, float], None]


@dataclass(eq=False, slots=True)
class Polled:
    """One device on a line's schedule: what to read, how often, and whom to tell."""

    unit: int
    plan: ReadPlan
    interval_s: float
    on_result: PollResult
    phase_s: float = 0.0  # its first poll, after the line's start
    failures: int = 0  # in a row


async def poll_line(
    line: ModbusLine,
    devices: Sequence[Polled],
    max_backoff_s: float = 30.0,
    patience: int = 3,
    tick_s: float = TICK_S,
) -> None:
    """Poll every device of one line, each every `interval_s` from its own phase, in one task.

    Polls start on a grid of `tick_s` (shared by every line, and at most a quarter of the
    shortest period): the devices that fall due in one tick go back to back, one request at a
    time as the line allows, and every line wakes at the same instants. A thousand counters are
    then ten wake-ups a second, not a thousand timers, tasks and wake-ups, and the polls are
    still spread over the period (a tenth of them per tick). After `patience` failures in a
    row a device waits longer (exponential, jittered), so a dead device is known as fast as a
    period allows and then stops taking its neighbours' turns.

    `on_result(values, error, ts_ns, rtt_s)` gets each outcome; ts_ns is when the answer came,
    rtt_s how long the device's read plan took on the wire. A device whose answer cannot be
    decoded fails alone; a callback that raises is logged (once a minute); neither stops the
    line's others.
    """
    if not devices:
        return
    loop = asyncio.get_running_loop()
    tick = min(tick_s, min(d.interval_s for d in devices) / 4)

    def slot(t: float) -> float:  # the first grid instant at or after t
        return math.ceil(t / tick - 1e-6) * tick

    start = loop.time()
    complained = -math.inf
    due = [(slot(start + d.phase_s), n) for n, d in enumerate(devices)]
    heapq.heapify(due)
    while True:
        at, n = due[0]
        now = loop.time()
        if at > now + 0.0005:
            await asyncio.sleep(at - now)
            continue
        d = devices[n]
        try:
            values = await line.read_plan(d.unit, d.plan)
            error = None
        except ModbusFailure as e:
            values, error = None, e
        except ValueError as e:  # an answer shorter than asked for: that device's problem alone
            values, error = None, ModbusFailure(f"{line.settings.name} unit {d.unit}: {e}", "io")
        ended = loop.time()
        d.failures = 0 if error is None else d.failures + 1
        try:
            d.on_result(values, error, time.time_ns(), ended - now)
        except Exception:
            if ended - complained > 60:  # at most once a minute: it may fail for every poll
                complained = ended
                log.exception("handling a poll of unit %s on %s failed", d.unit, line.settings.name)
        delay = d.interval_s
        if d.failures > patience:
            delay = max(d.interval_s, full_jitter(d.failures - patience, base=d.interval_s, cap=max_backoff_s))
        # Keep the device's phase while the line keeps up; a device that fell a period behind
        # goes again at the next tick, but only once, not for every period it missed.
        heapq.heapreplace(due, (slot(max(at + delay, ended)), n))
