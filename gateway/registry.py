"""The hall's devices with their compiled profiles: built once at start, read-only afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers.profiles.loader import ProfileError, find_profile
from drivers.profiles.modbus_map import ReadPlan, compile_plan
from drivers.profiles.model import ModbusProfile, MqttProfile
from drivers.profiles.mqtt_json import MqttDecoder
from gateway.config import Device, HallConfig


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    config: Device
    profile: MqttProfile | ModbusProfile
    topic: str | None = None  # MQTT: the device's topic base
    decoder: MqttDecoder | None = None
    plan: ReadPlan | None = None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def protocol(self) -> Literal["mqtt", "modbus"]:
        return self.profile.protocol


def build_registry(cfg: HallConfig) -> tuple[dict[str, DeviceEntry], list[tuple[str, str]]]:
    """Every device with its compiled profile, and every problem as (field path, message)."""
    entries: dict[str, DeviceEntry] = {}
    problems: list[tuple[str, str]] = []
    cache: dict[str, MqttProfile | ModbusProfile] = {}
    for i, d in enumerate(cfg.devices):
        where = f"devices[{i}] (id {d.id})"
        try:
            profile = cache.get(d.profile) or find_profile(d.profile, cfg.profiles_dirs)
        except ProfileError as e:
            problems.append((f"{where}.profile", str(e)))
            continue
        cache[d.profile] = profile
        if profile.kind != d.kind:
            problems.append((f"{where}.profile", f"profile {profile.name} is for kind {profile.kind}, "
                             f"not {d.kind}: pick a {d.kind} profile"))
            continue
        if isinstance(profile, MqttProfile):
            if d.modbus is not None:
                problems.append((f"{where}.modbus", f"profile {profile.name} speaks MQTT: remove modbus"))
                continue
            topic = d.mqtt.topic if d.mqtt and d.mqtt.topic else profile.topic_base(cfg.site, d.id)
            entries[d.id] = DeviceEntry(d, profile, topic=topic, decoder=MqttDecoder(profile))
        else:
            if d.modbus is None:
                problems.append((f"{where}.modbus", f"profile {profile.name} speaks Modbus: add "
                                 "modbus: {host: ..., port: 502, unit: 1} (or serial: /dev/ttyUSB0)"))
                continue
            entries[d.id] = DeviceEntry(d, profile, plan=compile_plan(profile))
    return entries, problems
