"""One Modbus server (TCP, RTU over TCP, or RTU on a serial port) carrying boards/sensors by unit id.

Several devices that share a host:port (or a serial port) are one line: a locker bank of
lock-control boards, or counters behind an RS-485 serial server or wired to the RS-485 line. Each
device implements `ModbusUnit`: it answers reads and writes in protocol (0-based) addresses and
returns `ExcCodes.ILLEGAL_ADDRESS` outside its map.

pymodbus 3.16 only accepts a `ModbusServerContext` (deprecated, removed in v4: pyproject pins <3.17)
or its new SimDevice; SimDevice validates coil/discrete addresses per 16-bit word, which cannot say
"discrete inputs 24-31 are outside the map", so we give the server our own context.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

log = logging.getLogger("firmware_sim.modbus")

FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU}

# function code -> table
READ_TABLE = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
WRITE_TABLE = {5: "coil", 15: "coil", 6: "holding", 16: "holding"}


class ModbusUnit(Protocol):
    """A device on a line: reads and writes in 0-based protocol addresses.

    Fault injection (firmware_sim/faults.py) sets three attributes the line honours: `offline`
    (no answer at all), `loss` (the share of requests left unanswered: the master times out) and
    `reply_delay_s` (slow replies)."""

    unit: int
    offline: bool
    loss: float
    reply_delay_s: float

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool] | ExcCodes: ...

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> ExcCodes | None: ...


class _LineContext(ModbusServerContext):
    """Dispatches requests to the units on the line (bypasses the deprecated base constructor)."""

    def __init__(self, units: dict[int, ModbusUnit]) -> None:  # the base __init__ only warns that it is deprecated
        self.units = units
        self.old_simulator = True  # tells ModbusBaseServer to call this object directly
        self.simdevices = []
        self.requests = 0
        self.unanswered = 0
        self.answer_missing = True  # TCP: exception 11 for a unit not on the line; serial: silence
        self._rng = random.Random(0)  # which requests a flaky line loses; seeded for repeatable runs

    def _unit(self, device_id: int) -> ModbusUnit:
        try:
            return self.units[device_id]
        except KeyError:
            raise NoSuchIdException(f"no unit {device_id} on this line") from None

    async def _faults(self, unit: ModbusUnit) -> None:
        """Apply the unit's injected faults; raising _NoAnswer leaves the request unanswered."""
        if getattr(unit, "offline", False) or self._rng.random() < getattr(unit, "loss", 0.0):
            self.unanswered += 1
            raise _NoAnswer(f"unit {unit.unit}: no answer (fault injection)")
        delay = getattr(unit, "reply_delay_s", 0.0)
        if delay:
            await asyncio.sleep(delay)

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self.requests += 1
        table = READ_TABLE.get(func_code) or WRITE_TABLE.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if device_id not in self.units and self.answer_missing:
            return ExcCodes.GATEWAY_NO_RESPONSE
        unit = self._unit(device_id)
        await self._faults(unit)
        return unit.read(table, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        table = WRITE_TABLE.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if device_id not in self.units and self.answer_missing:
            return ExcCodes.GATEWAY_NO_RESPONSE
        unit = self._unit(device_id)
        await self._faults(unit)
        return unit.write(table, address, list(values))

    def device_ids(self) -> list[int]:
        return list(self.units)


class _NoAnswer(NoSuchIdException):
    """pymodbus sends no reply at all for NoSuchIdException when `ignore_missing_devices` is set
    (its only way to stay silent); a unit that is really missing gets exception 11 on TCP."""


class ModbusBus:
    """An async Modbus server on host:port for the given units (`async with bus:` serves)."""

    def __init__(self, host: str, port: int, units: Sequence[ModbusUnit], framer: str = "socket") -> None:
        if framer not in FRAMERS:
            raise ValueError(f"framer must be socket or rtu, not {framer!r}")
        self.host = host
        self.port = port
        self.framer = framer
        self._attach(units)

    def _attach(self, units: Sequence[ModbusUnit]) -> None:
        ids = [u.unit for u in units]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.name}: unit ids must be unique on a line, got {ids}")
        for uid in ids:
            if not 1 <= uid <= 247:
                raise ValueError(f"{self.name}: unit id {uid} is not in 1-247")
        self.units = {u.unit: u for u in units}
        self.context = _LineContext(self.units)
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        scheme = "modbus+tcp" if self.framer == "socket" else "modbus+rtu-over-tcp"
        return f"{scheme}://{self.host}:{self.port}"

    def unplug(self, unit_id: int) -> ModbusUnit:
        """Take a unit off the line (power cut, broken wire): it stops answering until `plug`ged back."""
        return self.units.pop(unit_id)

    def plug(self, unit: ModbusUnit) -> None:
        self.units[unit.unit] = unit

    def _new_server(self) -> ModbusTcpServer | ModbusSerialServer:
        return ModbusTcpServer(self.context, framer=FRAMERS[self.framer], address=(self.host, self.port))

    async def start(self) -> None:
        self._server = self._new_server()
        self._server.ignore_missing_devices = True  # lets a fault leave a request unanswered
        await self._server.serve_forever(background=True)
        log.info("Modbus %s serving units %s", self.url, sorted(self.units))

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()
            await asyncio.sleep(0)

    async def __aenter__(self) -> ModbusBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SerialModbusBus(ModbusBus):
    """The same line on a serial port, as on RS-485 wired directly: RTU frames, `baudrate` 8N1.

    A unit id that is not on the line gets no answer (the master times out), as on a real bus;
    the TCP variant answers exception 11 like a serial server would.
    """

    def __init__(self, path: str, units: Sequence[ModbusUnit], baudrate: int = 9600) -> None:
        self.path = path
        self.baudrate = baudrate
        self.framer = "rtu"
        self._attach(units)

    @property
    def name(self) -> str:
        return self.path

    @property
    def url(self) -> str:
        return f"modbus+rtu://{self.path}?baudrate={self.baudrate}"

    def _new_server(self) -> ModbusSerialServer:
        self.context.answer_missing = False
        return ModbusSerialServer(
            self.context,
            framer=FramerType.RTU,
            port=self.path,
            baudrate=self.baudrate,
            bytesize=8,
            parity="N",
            stopbits=1,
            ignore_missing_devices=True,
        )
