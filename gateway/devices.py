"""The hall's devices with their compiled profiles: built once at start, read-only afterwards."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drivers.profiles.loader import ProfileError, find_profile
from drivers.profiles.modbus_map import ReadPlan, compile_plan
from drivers.profiles.model import ModbusProfile, MqttProfile
from drivers.profiles.mqtt_json import MqttDecoder
from gateway.config.devices import Device
from gateway.config.errors import ConfigError
from gateway.config.hall import HallConfig
from gateway.config.lines import lines_of
from gateway.config.load import load_config
from gateway.domain.canonical import READING
from gateway.kinds.base import Kind
from gateway.kinds.registry import KINDS


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


def provided_signals(profile: MqttProfile | ModbusProfile) -> dict[str, set[str]]:
    """Canonical event -> the fields a profile can fill for it."""
    if isinstance(profile, ModbusProfile):
        return {READING: set(profile.signals)}
    out: dict[str, set[str]] = {}
    for ch in profile.channels.values():
        for event in [ch.event] if ch.event else list(ch.types.values()):
            out.setdefault(event, set()).update(ch.fields)
    return out


def missing_signals(kind: Kind, profile: MqttProfile | ModbusProfile) -> list[str]:
    provided = provided_signals(profile)
    for event, (lacking, other) in kind.without.items():
        # The kind names an event lacking that field `other`: a profile whose `rated` can come
        # without a score (a vendor's 0 declared absent) provides `unrated` with it.
        if event in provided:
            provided.setdefault(other, set()).update(provided[event] - {lacking})
    missing = []
    for event, fields in kind.signals.items():
        if event not in provided:
            missing.append(f"event {event!r}")
        else:
            missing += [f"{event}.{f}" for f in sorted(fields - provided[event])]
    return missing


def build_registry(
    cfg: HallConfig, index: list[int] | None = None
) -> tuple[dict[str, DeviceEntry], list[tuple[str, str]]]:
    """Every device with its compiled profile, and every problem as (field path, message).

    `index`: each device's position in the file, when cfg holds only some of its devices.
    """
    entries: dict[str, DeviceEntry] = {}
    problems: list[tuple[str, str]] = []
    cache: dict[str, MqttProfile | ModbusProfile] = {}
    for n, d in enumerate(cfg.devices):
        where = f"devices[{index[n] if index else n}] (id {d.id})"
        try:
            profile = cache.get(d.profile) or find_profile(d.profile, cfg.profiles_dirs)
        except ProfileError as e:
            problems.append((f"{where}.profile", str(e)))
            continue
        cache[d.profile] = profile
        if profile.kind != d.kind:
            problems.append(
                (
                    f"{where}.profile",
                    f"设备模板 {profile.name} 属于 {profile.kind}，不是 {d.kind}："
                    f"请选 {d.kind} 的模板 (profile_kind_mismatch)",
                )
            )
            continue
        missing = missing_signals(KINDS[d.kind], profile)
        if missing:
            problems.append(
                (
                    f"{where}.profile",
                    f"设备模板 {profile.name} 缺少 {d.kind} 所需的："
                    f"{'、'.join(missing)}；请在模板中补上 (profile_incomplete)",
                )
            )
            continue
        if isinstance(profile, MqttProfile):
            if d.modbus is not None:
                said = f"设备模板 {profile.name} 使用 MQTT：请删去 modbus (link_mismatch)"
                problems.append((f"{where}.modbus", said))
                continue
            topic = d.mqtt.topic if d.mqtt and d.mqtt.topic else profile.topic_base(cfg.site, d.id)
            entries[d.id] = DeviceEntry(d, profile, topic=topic, decoder=MqttDecoder(profile, hall_tz=cfg.timezone))
        else:
            if d.modbus is None:
                problems.append(
                    (
                        f"{where}.modbus",
                        f"设备模板 {profile.name} 使用 Modbus：请加上 "
                        "modbus: {host: ..., port: 502, unit: 1}（或 serial: /dev/ttyUSB0）(link_missing)",
                    )
                )
                continue
            entries[d.id] = DeviceEntry(d, profile, plan=compile_plan(profile))
    return entries, problems


def load_hall(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, require_secrets: bool = True
) -> tuple[HallConfig, dict[str, DeviceEntry]]:
    """The configuration and its compiled devices; ConfigError lists every problem in one pass."""
    try:
        cfg = load_config(path, environ, require_secrets)
        problems: list[tuple[str, str]] = []
        index, lines = None, {}
    except ConfigError as e:
        if e.partial is None:
            raise
        cfg, problems, index, lines = e.partial, list(e.problems), e.device_index, e.lines
    entries, more = build_registry(cfg, index)
    if problems or more:
        problems += more
        lines = lines_of(Path(path).read_text(encoding="utf-8"), [where for where, _ in problems], lines)
        raise ConfigError(str(path), problems, lines=lines)
    return cfg, entries
