"""Modbus transport: one pymodbus async client and one lock per physical line, pollers per device.

A line is a TCP endpoint (Modbus TCP, or RTU over TCP through a serial server) or a serial port.
Only one request is in flight per line; a device that stops answering backs off, so its
timeouts cannot take its neighbours' turns. Knows nothing of lockers or counters: registers in,
values out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

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

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request, alone on the line."""
        async with self._lock:
            self.stats.requests += 1
            started = time.perf_counter()
            try:
                await self._ensure_connected()
                reply = await asyncio.wait_for(fn(*args, **kwargs), self.settings.timeout_s * 2)
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

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int] | list[bool]:
        c = self._client
        match table:
            case "input":
                return (await self._call(c.read_input_registers, address, count=count, device_id=unit)).registers
            case "holding":
                return (await self._call(c.read_holding_registers, address, count=count, device_id=unit)).registers
            case "discrete":
                return (await self._call(c.read_discrete_inputs, address, count=count, device_id=unit)).bits
            case "coil":
                return (await self._call(c.read_coils, address, count=count, device_id=unit)).bits
        raise ValueError(f"unknown register table {table!r}")

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


PollResult = Callable[[dict[str, Any] | None, ModbusFailure | None, int, float], None]


async def poll_forever(
    line: ModbusLine,
    unit: int,
    plan: ReadPlan,
    interval_s: float,
    on_result: PollResult,
    max_backoff_s: float = 30.0,
    patience: int = 3,
    phase_s: float = 0.0,
) -> None:
    """Poll one device every `interval_s`, the first time after `phase_s`; after `patience`
    failures in a row wait longer (exponential, jittered), so a dead device is known as fast as a
    period allows and then stops taking its neighbours' turns on the line.

    `on_result(values, error, ts_ns, rtt_s)` gets each outcome; ts_ns is when the answer came,
    rtt_s how long the whole read plan took (waiting for the line included). Give each device of
    a hall its own phase, so their polls spread over the period instead of all firing at once.
    """
    loop = asyncio.get_running_loop()
    failures = 0
    if phase_s > 0:
        await asyncio.sleep(phase_s)
    while True:
        started = loop.time()
        try:
            values = await line.read_plan(unit, plan)
        except ModbusFailure as e:
            failures += 1
            on_result(None, e, time.time_ns(), loop.time() - started)
        else:
            failures = 0
            on_result(values, None, time.time_ns(), loop.time() - started)
        delay = interval_s
        if failures > patience:
            delay = max(interval_s, full_jitter(failures - patience, base=interval_s, cap=max_backoff_s))
        await asyncio.sleep(max(0.0, started + delay - loop.time()))
