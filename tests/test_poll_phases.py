"""Polls spread over the period: each line's devices evenly, the lines offset from each other;
one poller per line on a real pymodbus server: a dead unit does not stall its neighbours."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from drivers.modbus import LineSettings, ModbusLine, Polled, poll_line
from drivers.profiles.loader import find_profile
from drivers.profiles.modbus_map import compile_plan
from firmware_sim.kinds.people_counter import PeopleCounter
from firmware_sim.modbus_bus import ModbusBus
from gateway.config.load import DEFAULT_PROFILES_DIR
from gateway.ingest.pollers import poll_phases
from tests.servers import free_port
from tests.waits import until


def test_each_line_spreads_its_devices_and_lines_interleave() -> None:
    polled = [(f"d{line}-{k}", f"10.0.0.{line}:502", 1.0) for line in range(2) for k in range(4)]
    phases = poll_phases(polled)
    assert [phases[f"d0-{k}"] for k in range(4)] == [0.0, 0.25, 0.5, 0.75]
    assert [phases[f"d1-{k}"] for k in range(4)] == [0.125, 0.375, 0.625, 0.875]
    assert len(set(phases.values())) == len(polled)


def test_a_slow_device_spreads_over_its_own_period() -> None:
    phases = poll_phases([("a", "line", 10.0), ("b", "line", 10.0)])
    assert phases == {"a": 0.0, "b": 5.0}


def test_one_poller_per_line_keeps_live_devices_on_time_beside_a_dead_one() -> None:
    asyncio.run(_line_with_a_dead_unit())


async def _line_with_a_dead_unit() -> None:
    port = free_port()
    counters = [PeopleCounter(u, rate_per_min=0) for u in (1, 2, 3)]
    counters[1].offline = True  # unit 2 never answers
    plan = compile_plan(find_profile("ref-people-counter", [DEFAULT_PROFILES_DIR]))  # type: ignore[arg-type]
    seen: dict[int, list[tuple[float, bool]]] = {1: [], 2: [], 3: []}
    loop = asyncio.get_running_loop()

    def result(unit: int) -> Any:
        return lambda values, error, ts_ns, rtt_s: seen[unit].append((loop.time(), error is None))

    async with ModbusBus("127.0.0.1", port, counters):
        line = ModbusLine(LineSettings(host="127.0.0.1", port=port, timeout_s=0.1))
        polled = [Polled(u, plan, 0.2, result(u), phase_s=(u - 1) * 0.2 / 3) for u in (1, 2, 3)]
        task = asyncio.create_task(poll_line(line, polled, max_backoff_s=1.0))
        try:
            await until(lambda: len(seen[2]) >= 4 and len(seen[1]) >= 10, timeout=10, what="polls")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            line.close()
    assert all(ok for u in (1, 3) for _, ok in seen[u]) and not any(ok for _, ok in seen[2])
    # The dead unit's timeouts (0.1 s each) hold the line, then it backs off; the live ones keep
    # their 0.2 s period: an answer may come up to a timeout and a tick late, never a poll lost.
    for u in (1, 3):
        times = [t for t, _ in seen[u][-8:]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(0.2 - 0.15 - 0.02 <= g <= 0.2 + 0.15 + 0.02 for g in gaps), gaps
        assert abs((times[-1] - times[0]) / 7 - 0.2) < 0.04, gaps
