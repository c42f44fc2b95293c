"""Vendors by profile alone, against real pymodbus servers: every Modbus golden case is served by
a pymodbus TCP server holding exactly the case's registers (reading anything else is exception 2,
as on most devices), read through the gateway's own transport (`ModbusLine.read_plan`), and must
give the case's canonical values. Command cases are written through the same line and land on the
addresses and values the case expects. No mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pymodbus.constants import ExcCodes

from drivers.modbus import DeviceRefused, LineSettings, ModbusLine
from drivers.profiles.commands import encode_modbus_command
from drivers.profiles.loader import find_profile
from drivers.profiles.modbus_map import compile_plan
from drivers.profiles.model import ModbusProfile
from firmware_sim.modbus_bus import ModbusBus
from gateway.config.load import DEFAULT_PROFILES_DIR
from tests.servers import free_port

CASES = Path(__file__).parent / "profile_cases"
DIRS = [CASES / "profiles", DEFAULT_PROFILES_DIR]


class DumpUnit:
    """A device holding a register dump (0-based protocol addresses) and recording writes."""

    def __init__(self, unit: int, tables: dict[str, dict[int, int | bool]]) -> None:
        self.unit = unit
        self.tables = tables
        self.writes: list[tuple[str, int, int | bool]] = []

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        cells = self.tables.get(table, {})
        if any(a not in cells for a in range(address, address + count)):
            return ExcCodes.ILLEGAL_ADDRESS
        return [cells[a] for a in range(address, address + count)]  # type: ignore[return-value]

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        self.writes.extend((table, address + i, v) for i, v in enumerate(values))
        return None


def _dump(spec: dict[str, Any]) -> dict[str, dict[int, int | bool]]:
    tables: dict[str, dict[int, int | bool]] = {}
    for (table, address, _count), values in zip(spec["expect_requests"], spec["registers"], strict=True):
        bits = table in ("coil", "discrete")
        cells = tables.setdefault(table, {})
        for i, v in enumerate(values):
            cells[address + i] = bool(v) if bits else v
    return tables


def _modbus_cases(key: str) -> list[tuple[str, ModbusProfile, dict[str, Any]]]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        profile = find_profile(spec["profile"], DIRS)
        if isinstance(profile, ModbusProfile) and key in spec and "error" not in spec:
            out.append((path.stem, profile, spec))
    return out


def test_every_modbus_case_reads_the_same_from_a_real_server() -> None:
    cases = _modbus_cases("registers")
    assert {p.name for _, p, _ in cases} >= {
        "kestrel-counter",
        "tally16-counter",
        "lockwell-locker",
        "boxly-locker",
        "ref-pickup-locker",
        "ref-people-counter",
    }
    units = [DumpUnit(i + 1, _dump(spec)) for i, (_, _, spec) in enumerate(cases)]

    async def scenario() -> dict[str, Any]:
        port = free_port()
        results: dict[str, Any] = {}
        async with ModbusBus("127.0.0.1", port, units):
            line = ModbusLine(LineSettings(host="127.0.0.1", port=port, timeout_s=2.0))
            try:
                for unit, (name, profile, _) in zip(units, cases, strict=True):
                    results[name] = await line.read_plan(unit.unit, compile_plan(profile))
                # The dump holds only the mapped registers: one register more is refused, so the
                # plans above never read across a gap the profile does not allow.
                name, profile, spec = cases[0]
                table, address, count = spec["expect_requests"][0]
                try:
                    await line.read(units[0].unit, table, address, count + 1)
                    results["beyond the map"] = "answered"
                except DeviceRefused as e:
                    results["beyond the map"] = e.code
            finally:
                line.close()
        return results

    results = asyncio.run(scenario())
    for name, _, spec in cases:
        assert results[name] == spec["expect_values"], name
    assert results["beyond the map"] == 2


def test_commands_land_on_the_expected_registers_of_a_real_server() -> None:
    cases = _modbus_cases("command")
    assert {p.name for _, p, _ in cases} >= {
        "kestrel-counter",
        "tally16-counter",
        "lockwell-locker",
        "boxly-locker",
        "ref-pickup-locker",
        "ref-people-counter",
    }
    # The device's map holds the written registers (pymodbus reads a register before writing it).
    units = [
        DumpUnit(i + 1, {t: {a: 0} for t, a, _ in spec["expect_wire"]["writes"]})
        for i, (_, _, spec) in enumerate(cases)
    ]

    async def scenario() -> None:
        port = free_port()
        async with ModbusBus("127.0.0.1", port, units):
            line = ModbusLine(LineSettings(host="127.0.0.1", port=port, timeout_s=2.0))
            try:
                for unit, (_, profile, spec) in zip(units, cases, strict=True):
                    cmd = spec["command"]
                    for w in encode_modbus_command(profile, cmd["op"], cmd["params"]).writes:
                        await line.write(unit.unit, w.table, w.address, w.value)
            finally:
                line.close()

    asyncio.run(scenario())
    for unit, (name, _, spec) in zip(units, cases, strict=True):
        expected = [(t, a, bool(v) if t == "coil" else v) for t, a, v in spec["expect_wire"]["writes"]]
        assert unit.writes == expected, name
