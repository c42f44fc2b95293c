"""Modbus device simulators served by pymodbus, read with the real `mbpoll` and pymodbus's client."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer import FramerType

from firmware_sim.kinds.people_counter import PeopleCounter
from firmware_sim.kinds.pickup_locker import LockerBoard
from firmware_sim.modbus_bus import ModbusBus
from tests.servers import free_port
from tests.sim_support import mbpoll
from tests.waits import until

U32 = 2**32


def u32(regs: dict[int, int], at: int) -> int:
    return regs[at] << 16 | regs[at + 1]


def test_counter_registers_illegal_address_and_reset_with_mbpoll() -> None:
    async def scenario() -> None:
        port = free_port()
        counter = PeopleCounter(1, rate_per_min=0, start_in=70_000, start_out=65_000, uptime_start_s=100)
        async with ModbusBus("127.0.0.1", port, [counter]):
            res = await mbpoll(port, "-t", "3", "-r", "0", "-c", "8")
            assert res.rc == 0, res.output
            regs = res.values
            assert sorted(regs) == list(range(8))
            assert u32(regs, 0) == 70_000 and u32(regs, 2) == 65_000  # high word first
            assert regs[4] == 0 and regs[5] == 105 and u32(regs, 6) >= 100
            # outside the map: exception 2
            for args in (["-t", "3", "-r", "8"], ["-t", "3", "-r", "6", "-c", "3"], ["-t", "4", "-r", "0"]):
                bad = await mbpoll(port, *args)
                assert "Illegal data address" in bad.output, (args, bad.output)
            # holding 16 = 0x5A5A resets both counts
            res = await mbpoll(port, "-t", "4", "-r", "16", write=[str(0x5A5A)])
            assert res.rc == 0, res.output
            regs = (await mbpoll(port, "-t", "3", "-r", "0", "-c", "4")).values
            assert u32(regs, 0) == 0 and u32(regs, 2) == 0
            bad = await mbpoll(port, "-t", "4", "-r", "16", write=["1234"])
            assert "Illegal data value" in bad.output, bad.output
            counter.block_lens()
            assert (await mbpoll(port, "-t", "3", "-r", "4")).values == {4: 1}

    asyncio.run(scenario())


def test_counter_counts_wraps_and_reboots() -> None:
    async def scenario() -> None:
        port = free_port()
        counter = PeopleCounter(1, rate_per_min=6000, start_in=U32 - 50, start_out=U32 - 50, uptime_start_s=5000)
        async with ModbusBus("127.0.0.1", port, [counter]):

            async def counts() -> tuple[int, int, int]:
                regs = (await mbpoll(port, "-t", "3", "-r", "0", "-c", "8")).values
                return u32(regs, 0), u32(regs, 2), u32(regs, 6)

            before = await counts()
            assert before[0] >= U32 - 50 and before[2] >= 5000
            # 100 people a second: the IN count wraps past 2^32 to a small number
            wrapped = await until(lambda: _wrapped(counts), timeout=5, what="IN count wrap")
            assert wrapped[0] < 1000 and wrapped[2] >= 5000  # wrapped, no reboot: uptime kept
            counter.reboot()
            after = await counts()
            assert after[2] < 5 and after[0] < 1000  # uptime dropped: a reboot, counts restarted

    async def _wrapped(counts):  # type: ignore[no-untyped-def]
        c = await counts()
        return c if c[0] < U32 // 2 else None

    asyncio.run(scenario())


def test_locker_bank_unlock_jam_and_map_with_mbpoll() -> None:
    async def scenario() -> None:
        port = free_port()
        board1 = LockerBoard(1, door_close_after_s=None, items_ratio=0.0)
        board2 = LockerBoard(2, door_close_after_s=None, items_ratio=0.0)
        board2.put_item(4)
        async with ModbusBus("127.0.0.1", port, [board1, board2]):
            regs = (await mbpoll(port, "-t", "3", "-r", "0", "-c", "8", unit=2)).values
            assert regs[0] == 203 and regs[1] == 24 and regs[2] == 0 and regs[3] == 265
            # pulse length 100 ms, then unlock door 5 of board 2
            assert (await mbpoll(port, "-t", "4", "-r", "0", write=["100"], unit=2)).rc == 0
            assert (await mbpoll(port, "-t", "4", "-r", "0", unit=2)).values == {0: 100}
            res = await mbpoll(port, "-t", "0", "-r", "5", write=["1"], unit=2)
            assert res.rc == 0, res.output

            async def di(ref: int, unit: int = 2) -> int:
                return (await mbpoll(port, "-t", "1", "-r", str(ref), unit=unit)).values[ref]

            await until(lambda: _eq(di(5), 1), what="door 5 open")
            await until(lambda: _coil_clear(port, 5), what="coil 5 back to 0 after the pulse")
            assert await di(5, unit=1) == 0  # the other board on the line did nothing
            assert await di(32 + 4) == 1 and await di(32 + 5) == 0  # item-present inputs
            # a jammed door stays closed and gets its fault bit
            board2.jam(7)
            await mbpoll(port, "-t", "0", "-r", "7", write=["1"], unit=2)

            async def fault_bits() -> int:
                return u32((await mbpoll(port, "-t", "3", "-r", "6", "-c", "2", unit=2)).values, 6)

            await until(lambda: _eq(fault_bits(), 1 << 7), what="fault bit 7")
            assert await di(7) == 0
            # outside the map: discrete inputs 24-31, coil 24, input register 8
            for args in (
                ["-t", "1", "-r", "24"],
                ["-t", "1", "-r", "20", "-c", "8"],
                ["-t", "0", "-r", "24"],
                ["-t", "3", "-r", "8"],
            ):
                bad = await mbpoll(port, *args, unit=2)
                assert "Illegal data address" in bad.output, (args, bad.output)
            board2.set_supply_low()
            board2.set_temperature(-5.0)
            regs = (await mbpoll(port, "-t", "3", "-r", "2", "-c", "2", unit=2)).values
            assert regs[2] == 1 and regs[3] == (-50) & 0xFFFF

    asyncio.run(scenario())


async def _eq(aw, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return await aw == expected


async def _coil_clear(port: int, ref: int) -> bool:
    return (await mbpoll(port, "-t", "0", "-r", str(ref), unit=2)).values.get(ref) == 0


def test_rtu_over_tcp_line_of_counters_with_pymodbus_client() -> None:
    async def scenario() -> None:
        port = free_port()
        counters = [PeopleCounter(u, rate_per_min=0, start_in=1000 * u, start_out=10 * u) for u in (1, 2, 3)]
        async with ModbusBus("127.0.0.1", port, counters, framer="rtu"):
            client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=2, retries=0)
            await client.connect()
            try:
                for unit in (1, 2, 3):
                    rr = await client.read_input_registers(0, count=8, device_id=unit)
                    assert not rr.isError(), rr
                    assert rr.registers[0] << 16 | rr.registers[1] == 1000 * unit
                    assert rr.registers[2] << 16 | rr.registers[3] == 10 * unit
                    assert rr.registers[5] == 105
                rr = await client.read_input_registers(7, count=2, device_id=2)
                assert rr.isError() and rr.exception_code == 2
                wr = await client.write_register(16, 0x5A5A, device_id=3)
                assert not wr.isError(), wr
                rr = await client.read_input_registers(0, count=4, device_id=3)
                assert rr.registers == [0, 0, 0, 0]
                assert counters[1].count_in == 2000  # unit 2 untouched
            finally:
                client.close()

    asyncio.run(scenario())
