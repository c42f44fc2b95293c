"""Modbus RTU on a real serial line: a socat pseudo-terminal pair, the simulator on one end.

The simulator serves two people counters (units 1 and 2) on end A of the pair; pymodbus's serial
client, then the whole gateway, talk to them on end B: one shared line, one request at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.people_counter import PeopleCounter
from firmware_sim.modbus_bus import SerialModbusBus
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from gateway.view import DeviceSnapshot
from tests.servers import free_port
from tests.waits import until

U32 = 2**32


@contextlib.contextmanager
def pty_pair(folder: Path, timeout: float = 5.0) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals (raw, no echo) from socat: what one end writes, the other reads."""
    socat = shutil.which("socat") or shutil.which("socat", path="/usr/bin:/usr/local/bin")
    if socat is None:
        pytest.fail("socat is not installed: the serial tests need it (apt-get install socat; .ci/setup does)")
    a, b = folder / "ttyA", folder / "ttyB"
    log = folder / "socat.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [socat, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + timeout
        while not (a.exists() and b.exists()):
            if proc.poll() is not None:
                pytest.fail(f"socat exited with {proc.returncode}: {log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"socat made no pty links in {timeout} s: {log.read_text(errors='replace')}")
            time.sleep(0.01)
        yield str(a), str(b)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def u32(regs: list[int], at: int) -> int:
    return regs[at] << 16 | regs[at + 1]


def test_two_counters_share_one_serial_line(tmp_path: Path) -> None:
    with pty_pair(tmp_path) as (end_a, end_b):
        asyncio.run(_two_counters(end_a, end_b))


async def _two_counters(end_a: str, end_b: str) -> None:
    c1 = PeopleCounter(1, rate_per_min=0, start_in=70_000, start_out=65_000, uptime_start_s=100)
    c2 = PeopleCounter(2, rate_per_min=0, start_in=U32 - 2, start_out=131_073)
    async with SerialModbusBus(end_a, [c1, c2], baudrate=9600):
        client = AsyncModbusSerialClient(
            end_b,
            framer=FramerType.RTU,
            baudrate=9600,
            bytesize=8,
            parity="N",
            stopbits=1,
            timeout=0.3,
            retries=0,
            reconnect_delay=0,
        )
        assert await client.connect()
        try:
            r1 = await client.read_input_registers(0, count=8, device_id=1)
            r2 = await client.read_input_registers(0, count=8, device_id=2)
            assert not r1.isError() and not r2.isError(), (r1, r2)
            assert (r1.dev_id, r2.dev_id) == (1, 2)
            # 32-bit counts: two registers, high word first
            assert r1.registers[:4] == [1, 4464, 0, 65_000]
            assert (u32(r1.registers, 0), u32(r1.registers, 2)) == (70_000, 65_000)
            assert (u32(r2.registers, 0), u32(r2.registers, 2)) == (U32 - 2, 131_073)
            assert r1.registers[4:6] == [0, 105] and u32(r1.registers, 6) >= 100
            c2.add(3)  # wraps
            r2 = await client.read_input_registers(0, count=2, device_id=2)
            assert u32(r2.registers, 0) == 1

            # outside the map: exception 2, from the unit that was asked
            for unit, read, address, count in (
                (1, client.read_input_registers, 8, 1),
                (2, client.read_input_registers, 6, 3),
                (2, client.read_holding_registers, 0, 1),
                (1, client.read_coils, 0, 1),
            ):
                bad = await read(address, count=count, device_id=unit)
                assert bad.isError() and bad.exception_code == 2 and bad.dev_id == unit, bad

            # the reset register of unit 2 resets unit 2 only
            ok = await client.write_register(16, 0x5A5A, device_id=2)
            assert not ok.isError(), ok
            r1 = await client.read_input_registers(0, count=4, device_id=1)
            r2 = await client.read_input_registers(0, count=4, device_id=2)
            assert u32(r1.registers, 0) == 70_000 and r2.registers == [0, 0, 0, 0]

            # no unit 3 on this line: silence (the master times out), as on a real RS-485 bus
            with pytest.raises(ModbusIOException):
                await client.read_input_registers(0, count=1, device_id=3)
            r1 = await client.read_input_registers(0, count=2, device_id=1)
            assert u32(r1.registers, 0) == 70_000  # the line still works after the timeout
        finally:
            client.close()


HALL = """
site: serial-hall
zones: [{{id: consult, capacity: 50}}, {{id: windows, capacity: 100}}]
api: {{port: {api_port}}}
store: {{path: {tmp}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: none}}
devices:
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: 0.2,
      modbus: {{serial: {tty}, baudrate: 9600, unit: 1, timeout_s: 0.5}}}}
  - {{id: pc-inner, kind: people_counter, profile: ref-people-counter, zone: windows, from_zone: consult,
      poll_interval_s: 0.2, modbus: {{serial: {tty}, baudrate: 9600, unit: 2, timeout_s: 0.5}}}}
"""


def test_gateway_polls_two_counters_over_one_serial_line(tmp_path: Path) -> None:
    with pty_pair(tmp_path) as (end_a, end_b):
        api_port = free_port()
        # One hall file per end of the line: the simulator serves A, the gateway polls B.
        sim_yaml, gw_yaml = tmp_path / "sim-hall.yaml", tmp_path / "hall.yaml"
        sim_yaml.write_text(HALL.format(api_port=api_port, tmp=tmp_path, tty=end_a))
        gw_yaml.write_text(HALL.format(api_port=api_port, tmp=tmp_path, tty=end_b))
        asyncio.run(_gateway_over_serial(sim_yaml, gw_yaml))


async def _gateway_over_serial(sim_yaml: Path, gw_yaml: Path) -> None:
    cfg = load_config(gw_yaml)
    sim = HallSimulator(sim_yaml, rate_per_min=0, seed=7)
    assert [type(b) for b in sim.buses] == [SerialModbusBus] and sorted(sim.buses[0].units) == [1, 2]
    async with sim, start_gateway(cfg) as gw:
        view = gw.view

        def dev(device_id: str) -> DeviceSnapshot:
            snap = view.device(device_id)
            assert snap is not None
            return snap

        def zones() -> dict[str, int]:
            return {z.zone: z.occupancy for z in view.zones()}

        def events(device_id: str) -> int:
            detail = view.device_detail(device_id)
            assert detail is not None
            return detail.counters["events"]

        assert len(view.line_stats()) == 1  # both counters on one line

        await until(lambda: dev("pc-door").online and dev("pc-inner").online, what="both counters online")

        sim.device("pc-door").add(5, 1)
        await until(lambda: zones()["consult"] == 4, what="consult occupancy 4 after 5 in, 1 out")
        sim.device("pc-inner").add(3, 1)  # 3 from consult into windows, 1 back
        await until(
            lambda: (zones()["consult"], zones()["windows"]) == (2, 2),
            what="occupancy moved through the inner door",
        )

        # Unit 2 loses power: only it goes offline; unit 1 keeps being polled on the same line.
        sim.buses[0].unplug(2)
        await until(lambda: not dev("pc-inner").online, what="pc-inner offline after it went silent")
        assert dev("pc-inner").detail.startswith("连续 3 次轮询无应答"), dev("pc-inner").detail
        assert dev("pc-door").online
        before = events("pc-door")
        await until(lambda: events("pc-door") >= before + 5, what="pc-door still polled")
        sim.device("pc-door").add(2)
        await until(lambda: zones()["consult"] == 4, what="consult occupancy from pc-door alone")
        assert dev("pc-door").online and not dev("pc-inner").online
        assert zones()["windows"] == 2
