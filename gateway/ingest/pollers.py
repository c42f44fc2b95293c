"""The Modbus pollers: one client (and lock) and one poller per physical line, its devices'
first polls spread over their periods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from drivers.modbus import LineSettings, ModbusLine, Polled, poll_line
from gateway.devices import DeviceEntry
from gateway.ingest.hub import Hub
from gateway.supervisor import Supervisor


def spawn_pollers(
    supervisor: Supervisor, devices: dict[str, DeviceEntry], lines: dict[str, ModbusLine], hub: Hub
) -> None:
    """One client (and lock) and one poller per physical line, its devices' phases spread."""
    polled = [d for d in devices.values() if d.plan is not None and d.config.modbus is not None]
    phases = poll_phases([(d.id, d.config.modbus.bus, d.config.poll_interval_s) for d in polled])  # type: ignore[union-attr]
    on_line: dict[str, list[DeviceEntry]] = {}
    for d in polled:
        m = d.config.modbus
        assert m is not None
        on_line.setdefault(m.bus, []).append(d)
        if m.bus not in lines:
            lines[m.bus] = ModbusLine(
                LineSettings(
                    host=m.host,
                    port=m.port,
                    serial=m.serial,
                    baudrate=m.baudrate,
                    framer=m.framer,
                    timeout_s=m.timeout_s,
                )
            )
    for bus, members in on_line.items():
        supervisor.spawn(f"poll {bus}", _poller(lines[bus], members, hub, phases))


def poll_phases(polled: list[tuple[str, str, float]]) -> dict[str, float]:
    """When each polled device (id, line, period) first polls: spread evenly over its period
    within its line (one request at a time goes on a line), and the lines offset from each
    other, so a thousand counters do not all fire in the same instant every second."""
    lines: dict[str, list[tuple[str, float]]] = {}
    for device, line, period in polled:
        lines.setdefault(line, []).append((device, period))
    out = {}
    for n, members in enumerate(lines.values()):
        for k, (device, period) in enumerate(members):
            out[device] = period * ((k + n / len(lines)) / len(members))
    return out


def _poller(
    line: ModbusLine, members: list[DeviceEntry], hub: Hub, phases: dict[str, float]
) -> Callable[[], Awaitable[None]]:
    def run() -> Awaitable[None]:
        # Made afresh at each (re)start: every device starts again from its phase, no failures.
        polled = []
        for d in members:
            m, plan = d.config.modbus, d.plan
            assert m is not None and plan is not None
            polled.append(Polled(m.unit, plan, d.config.poll_interval_s, hub.on_poll(d.id), phases[d.id]))
        return poll_line(line, polled)

    return run
