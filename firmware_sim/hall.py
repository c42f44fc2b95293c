"""A whole hall (or district) of simulated devices from a hall configuration file (read by
firmware_sim/hall_file.py).

    async with HallSimulator("configs/demo-hall.yaml", mqtt=MqttSettings(port=1883)) as sim:
        sim.device("lb-1f").jam(3)
        sim.device("pc-self").reboot()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from firmware_sim.common import CaseNumbers
from firmware_sim.faults import FaultInjector
from firmware_sim.hall_file import HallConfig, HallConfigError, checked_sim, load_hall
from firmware_sim.kinds.base import HallShare
from firmware_sim.kinds.registry import KINDS
from firmware_sim.modbus_bus import ModbusBus, ModbusUnit, SerialModbusBus
from firmware_sim.mqtt_device import DEFAULT_STATE, MqttDevice, StateDir
from firmware_sim.mqtt_session import MqttSettings
from firmware_sim.spec import DeviceSpec, ModbusSpec
from firmware_sim.tasks import shutdown_tasks

log = logging.getLogger("firmware_sim.hall")

TEMPLATES = Path(__file__).parent / "templates"

Device = MqttDevice | ModbusUnit


class HallSimulator:
    """Every device of one hall: MQTT devices on one broker, Modbus servers grouped by host:port.

    `async with sim:` starts them all and stops them cleanly (status offline/shutdown) on exit or
    cancellation. `sim.device(id)` returns the device object for scripted actions and faults.
    """

    def __init__(
        self,
        config: str | Path | Mapping[str, Any] | HallConfig,
        *,
        mqtt: MqttSettings | None = None,
        heartbeat_s: float = 30.0,
        rate_per_min: float = 2.0,
        seed: int | str = 0,
        state_dir: StateDir = DEFAULT_STATE,
        site: str | None = None,
        id_suffix: str = "",
        modbus_host: str | None = None,
        modbus_port_base: int | None = None,
        will: bool = True,
    ) -> None:
        """`will`: False starts every MQTT device without an MQTT will (a device's `sim: {will: ...}`
        still decides for itself).
        `rate_per_min`: activity of each device (events a minute; people a minute for counters).
        `site`/`id_suffix` rename the hall and its devices (a district of copies of one hall).
        `modbus_host`/`modbus_port_base` move the Modbus servers: the hall's distinct host:port pairs
        get consecutive ports from the base, in order of appearance.
        `state_dir`: where each MQTT device keeps its flash (`{state_dir}/{site}/{device}/`); by default
        under ~/.local/state/hallgate-sim (see `firmware_sim.common.default_state_root`); None: memory only."""
        self.config = config if isinstance(config, HallConfig) else load_hall(config)
        self.site = site or self.config.site
        self.mqtt = mqtt or MqttSettings()
        self.devices: dict[str, Device] = {}
        self.mqtt_devices: list[MqttDevice] = []
        self.buses: list[ModbusBus] = []
        self.specs: dict[str, DeviceSpec] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.id_suffix = id_suffix
        self.modbus_host = modbus_host
        share = HallShare(CaseNumbers(start=int(time.time()) % 100_000 * 10), rate_per_min)
        ports: dict[tuple[str, int], int] = {}
        lines: dict[str, tuple[ModbusSpec, list[ModbusUnit]]] = {}
        where = self.config.source
        for index, spec in enumerate(self.config.devices):
            dev_id = f"{spec.id}{id_suffix}"
            here = f"{where}: devices[{index}]"
            kind = KINDS[spec.kind]
            defaults = kind.options(spec, share)
            if kind.transport == "mqtt":
                options: dict[str, Any] = {
                    "heartbeat_s": heartbeat_s,
                    "rate_per_min": rate_per_min,
                    "seed": seed,
                    "will": will,
                }
                if state_dir is None or isinstance(state_dir, str | Path):
                    options["state_dir"] = None if state_dir is None else Path(state_dir) / self.site / dev_id
                options |= defaults | checked_sim(spec, kind.device, here)
                topic = spec.topic.replace("{site}", self.site) if spec.topic else None
                try:
                    device: Device = kind.device(dev_id, site=self.site, topic=topic, mqtt=self.mqtt, **options)
                except ValueError as e:
                    raise HallConfigError(f"{here}: {e}") from e
                self.mqtt_devices.append(device)
            else:
                assert spec.modbus is not None
                mb = spec.modbus
                if mb.serial is None:
                    key = (mb.host, mb.port)
                    if key not in ports:
                        port = mb.port if modbus_port_base is None else modbus_port_base + len(ports)
                        ports[key] = port
                    mb = replace(mb, host=modbus_host or mb.host, port=ports[key])
                    spec = replace(spec, modbus=mb)
                options = {"seed": seed} | defaults | checked_sim(spec, kind.device, here)
                device = kind.device(mb.unit, device_id=dev_id, **options)
                first, units = lines.setdefault(mb.line, (mb, []))
                if first.framer != mb.framer:
                    raise HallConfigError(f"{here}.modbus.framer: {mb.line} mixes socket and rtu")
                if first.baudrate != mb.baudrate:
                    raise HallConfigError(f"{here}.modbus.baudrate: {mb.line} mixes {first.baudrate} and {mb.baudrate}")
                units.append(device)
            self.devices[dev_id] = device
            share.devices[dev_id] = device
            self.specs[dev_id] = spec
        self.modbus_ports = ports  # (host, port) in the file -> the port served
        self.faults = FaultInjector(self.devices, seed)
        for mb, units in lines.values():
            try:
                if mb.serial is not None:
                    self.buses.append(SerialModbusBus(mb.serial, units, mb.baudrate))
                else:
                    self.buses.append(ModbusBus(mb.host, mb.port, units, mb.framer))
            except ValueError as e:
                raise HallConfigError(f"{where}: {e}") from e

    @classmethod
    def single(cls, kind: str, device_id: str, *, site: str = "demo-hall", **kwargs: Any) -> HallSimulator:
        """A simulator of one device. Keyword arguments: the constructor's, plus `window`, `slots`,
        `topic`, `modbus` ({host, port, unit, framer} or {serial, baudrate, unit}) and `sim` (device options)."""
        entry = {"id": device_id, "kind": kind}
        for key in ("window", "slots", "modbus", "sim"):
            if kwargs.get(key) is not None:
                entry[key] = kwargs[key]
            kwargs.pop(key, None)
        if kwargs.get("topic"):
            entry["mqtt"] = {"topic": kwargs.pop("topic")}
        kwargs.pop("topic", None)
        return cls({"site": site, "devices": [entry]}, **kwargs)

    def device(self, device_id: str) -> Any:
        """The device object (the class its kind declares in firmware_sim/kinds/)."""
        try:
            return self.devices[device_id]
        except KeyError:
            raise KeyError(f"no device {device_id!r} in hall {self.site}; have {sorted(self.devices)}") from None

    def inject(self, spec: Mapping[str, Any] | str) -> list[str]:
        """Apply a fault (see firmware_sim/faults.py), e.g. `sim.inject("jam:device=lb-1f,slot=3")`."""
        from firmware_sim.faults import parse_fault

        return self.faults.apply(parse_fault(spec) if isinstance(spec, str) else spec)

    def stats(self) -> dict[str, int]:
        """Counts for the status line: devices up, messages published, Modbus requests served."""
        mqtt_up = sum(1 for d in self.mqtt_devices if d.connected.is_set())
        modbus = [d for d in self.devices.values() if not isinstance(d, MqttDevice)]
        serving = {id(b) for b in self.buses if b._server is not None}
        modbus_up = sum(
            1 for b in self.buses if id(b) in serving for u in b.units.values() if not getattr(u, "offline", False)
        )
        return {
            "devices": len(self.devices),
            "up": mqtt_up + modbus_up,
            "mqtt": len(self.mqtt_devices),
            "mqtt_up": mqtt_up,
            "modbus": len(modbus),
            "published": sum(d.published for d in self.mqtt_devices),
            "requests": sum(b.context.requests for b in self.buses),
            "faults": self.faults.active_count,
        }

    def describe(self) -> list[str]:
        """One line per device: what it is and where to reach it."""
        lines = []
        for dev_id, dev in self.devices.items():
            spec = self.specs[dev_id]
            if isinstance(dev, MqttDevice):
                url = f"mqtt://{self.mqtt.host}:{self.mqtt.port} (MQTT {self.mqtt.protocol}) {dev.topic}/#"
            else:
                mb = spec.modbus
                assert mb is not None
                if mb.serial is not None:
                    url = f"Modbus RTU {mb.serial} {mb.baudrate} 8N1 unit {mb.unit}"
                else:
                    framing = "Modbus TCP" if mb.framer == "socket" else "RTU over TCP"
                    url = f"{framing} {mb.host}:{mb.port} unit {mb.unit}"
            lines.append(f"  {spec.kind:<15} {dev_id:<24} {url}")
        return lines

    async def start(self) -> None:
        started: list[ModbusBus] = []
        try:
            for bus in self.buses:
                await bus.start()
                started.append(bus)
        except BaseException:
            for bus in started:
                await bus.stop()
            raise
        self._tasks = [asyncio.create_task(d.run(), name=d.client_id) for d in self.mqtt_devices]

    async def stop(self, timeout: float = 2.0) -> None:
        """Stop every device: MQTT devices publish status offline (shutdown), servers close."""
        self.faults.stop()
        try:
            await shutdown_tasks(self.mqtt_devices, self._tasks, timeout)
        finally:
            self._tasks = []
            for dev in self.devices.values():
                if not isinstance(dev, MqttDevice):
                    dev.stop()  # also the units unplugged from their line
            for bus in self.buses:
                await bus.stop()

    async def wait_online(self, timeout: float = 10.0) -> None:
        """Wait until every MQTT device is connected."""
        await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in self.mqtt_devices)), timeout)

    async def __aenter__(self) -> HallSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class DistrictSimulator:
    """N copies of one hall on one broker: sites `{site}-001`..., device ids suffixed `-001`...,
    each hall's Modbus servers on consecutive ports from `modbus_port_base`."""

    def __init__(
        self,
        halls: int,
        config: str | Path | Mapping[str, Any] | HallConfig | None = None,
        *,
        modbus_port_base: int = 16000,
        seed: int | str = 0,
        **kwargs: Any,
    ) -> None:
        base = config if isinstance(config, HallConfig) else load_hall(config or TEMPLATES / "village.yaml")
        serial = sorted({d.modbus.serial for d in base.devices if d.modbus and d.modbus.serial})
        if serial and halls > 1:
            raise HallConfigError(f"{base.source}: serial lines {serial} cannot be copied into {halls} halls")
        ports_per_hall = len({(d.modbus.host, d.modbus.port) for d in base.devices if d.modbus and not d.modbus.serial})
        self.halls = [
            HallSimulator(
                base,
                site=f"{base.site}-{i:03d}",
                id_suffix=f"-{i:03d}",
                modbus_port_base=modbus_port_base + (i - 1) * ports_per_hall,
                seed=f"{seed}:{i}",
                **kwargs,
            )
            for i in range(1, halls + 1)
        ]

    def gateway_configs(self, broker: tuple[str, int, str], api_port_base: int = 18000) -> dict[str, dict[str, Any]]:
        """The gateway configuration of every site (see firmware_sim/district.py), by site."""
        from firmware_sim.district import site_config

        return {
            hall.site: site_config(
                hall.config.raw,
                site=hall.site,
                id_suffix=hall.id_suffix,
                modbus_ports=hall.modbus_ports,
                modbus_host=hall.modbus_host,
                broker=broker,
                api_port=api_port_base + i,
            )
            for i, hall in enumerate(self.halls)
        }

    def hall(self, number: int) -> HallSimulator:
        """Hall `number`, 1-based."""
        return self.halls[number - 1]

    def describe(self) -> list[str]:
        lines: list[str] = []
        for hall in self.halls:
            lines.append(f"hall {hall.site}: {len(hall.devices)} devices")
            lines.extend(hall.describe())
        return lines

    async def __aenter__(self) -> DistrictSimulator:
        started: list[HallSimulator] = []
        try:
            for hall in self.halls:
                await hall.start()
                started.append(hall)
        except BaseException:
            await asyncio.gather(*(h.stop() for h in started))
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(h.stop() for h in self.halls))
