"""Polls spread over the period: each line's devices evenly, the lines offset from each other."""

from __future__ import annotations

from gateway.runtime import poll_phases


def test_each_line_spreads_its_devices_and_lines_interleave() -> None:
    polled = [(f"d{line}-{k}", f"10.0.0.{line}:502", 1.0) for line in range(2) for k in range(4)]
    phases = poll_phases(polled)
    assert [phases[f"d0-{k}"] for k in range(4)] == [0.0, 0.25, 0.5, 0.75]
    assert [phases[f"d1-{k}"] for k in range(4)] == [0.125, 0.375, 0.625, 0.875]
    assert len(set(phases.values())) == len(polled)


def test_a_slow_device_spreads_over_its_own_period() -> None:
    phases = poll_phases([("a", "line", 10.0), ("b", "line", 10.0)])
    assert phases == {"a": 0.0, "b": 5.0}
