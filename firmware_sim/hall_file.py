"""Reading a hall configuration file for the simulator, with PyYAML, independently of the gateway's
configuration models.

Used keys: `site`, and per entry of `devices`: `id`, `kind` (one of firmware_sim/kinds/registry.py),
`window`, `slots`, `mqtt.topic`, `modbus: {host, port, unit, framer}` (or `modbus: {serial:
/dev/ttyX, baudrate: 9600, unit}`: RTU on a serial port, 8N1; the devices on one port share it) and
a free-form `sim:` mapping of simulator options (the device class's keyword arguments, e.g.
`sim: {open_probability: 0.5, start_in: 4294967000}`). Other keys are ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from firmware_sim.kinds.registry import KINDS
from firmware_sim.modbus_bus import FRAMERS
from firmware_sim.spec import DeviceSpec, ModbusSpec


class HallConfigError(ValueError):
    """A hall configuration the simulator cannot run; the message names the file and the field."""


@dataclass(frozen=True)
class HallConfig:
    site: str
    devices: tuple[DeviceSpec, ...]
    source: str = "<dict>"
    raw: Mapping[str, Any] = field(default_factory=dict)  # the parsed file, for district copies


def load_hall(source: str | Path | Mapping[str, Any]) -> HallConfig:
    """Read a hall configuration (a YAML file or an already parsed mapping)."""
    if isinstance(source, Mapping):
        raw, where = source, "<dict>"
    else:
        where = str(source)
        try:
            raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise HallConfigError(f"{where}: cannot read: {e}") from e
    if not isinstance(raw, Mapping):
        raise HallConfigError(f"{where}: expected a mapping at the top")
    site = raw.get("site")
    if not isinstance(site, str) or not site:
        raise HallConfigError(f"{where}: `site` must be a non-empty string")
    entries = raw.get("devices") or []
    if not isinstance(entries, list):
        raise HallConfigError(f"{where}: `devices` must be a list")
    devices = tuple(_device_spec(entry, f"{where}: devices[{i}]") for i, entry in enumerate(entries))
    ids = [d.id for d in devices]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise HallConfigError(f"{where}: duplicate device ids {duplicates}")
    return HallConfig(site=site, devices=devices, source=where, raw=raw)


def _device_spec(entry: Any, where: str) -> DeviceSpec:
    if not isinstance(entry, Mapping):
        raise HallConfigError(f"{where}: expected a mapping")
    dev_id, kind = entry.get("id"), entry.get("kind")
    if not isinstance(dev_id, str) or not dev_id:
        raise HallConfigError(f"{where}.id: must be a non-empty string")
    where = f"{where} ({dev_id})"
    if kind not in KINDS:
        raise HallConfigError(f"{where}.kind: {kind!r} is not a simulated device kind; use one of {', '.join(KINDS)}")
    sim = entry.get("sim") or {}
    if not isinstance(sim, Mapping):
        raise HallConfigError(f"{where}.sim: must be a mapping")
    mqtt = entry.get("mqtt") or {}
    topic = mqtt.get("topic") if isinstance(mqtt, Mapping) else None
    modbus = None
    if KINDS[kind].transport == "modbus":
        mb = entry.get("modbus")
        if not isinstance(mb, Mapping):
            raise HallConfigError(f"{where}.modbus: a {kind} needs `modbus: {{host, port, unit}}`")
        serial = mb.get("serial")
        framer = mb.get("framer", "rtu" if serial else "socket")
        if framer not in FRAMERS:
            raise HallConfigError(f"{where}.modbus.framer: {framer!r} is not socket or rtu")
        if serial is not None:
            if not isinstance(serial, str) or not serial or "host" in mb or "port" in mb or framer != "rtu":
                raise HallConfigError(f"{where}.modbus: give either host/port or a serial port path (RTU)")
            try:
                modbus = ModbusSpec("", 0, int(mb.get("unit", 1)), framer, serial, int(mb.get("baudrate", 9600)))
            except (TypeError, ValueError) as e:
                raise HallConfigError(f"{where}.modbus: needs an integer unit and baudrate ({e})") from e
        else:
            try:
                modbus = ModbusSpec(str(mb.get("host", "127.0.0.1")), int(mb["port"]), int(mb.get("unit", 1)), framer)
            except (KeyError, TypeError, ValueError) as e:
                raise HallConfigError(f"{where}.modbus: needs an integer port and unit ({e})") from e
    slots = entry.get("slots")
    if slots is not None and not isinstance(slots, int):
        raise HallConfigError(f"{where}.slots: must be an integer")
    window = entry.get("window")
    return DeviceSpec(dev_id, kind, None if window is None else str(window), slots, topic, modbus, dict(sim))


def _accepted_options(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind is p.KEYWORD_ONLY:
                names.add(p.name)
    return names - {"site", "topic", "mqtt", "device_id", "case_numbers", "hall"}


def checked_sim(spec: DeviceSpec, cls: type, where: str) -> dict[str, Any]:
    allowed = _accepted_options(cls)
    unknown = sorted(set(spec.sim) - allowed)
    if unknown:
        raise HallConfigError(f"{where} ({spec.id}).sim: unknown options {unknown}; known: {sorted(allowed)}")
    return dict(spec.sim)
