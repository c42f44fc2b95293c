"""A device entry of a hall file, as the simulators read it (independently of the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModbusSpec:
    host: str
    port: int
    unit: int = 1
    framer: str = "socket"
    serial: str | None = None  # a serial port (RTU framing; host and port unused)
    baudrate: int = 9600

    @property
    def line(self) -> str:
        return self.serial or f"{self.host}:{self.port}"


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    kind: str
    window: str | None = None
    slots: int | None = None
    topic: str | None = None
    modbus: ModbusSpec | None = None
    sim: Mapping[str, Any] = field(default_factory=dict)
