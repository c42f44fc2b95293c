"""Fault injection: one vocabulary for the command line, scenarios and the control channel.

A fault is a mapping `{"fault": NAME, ...parameters, ...target}`. The target is `device` (an id or a
list of ids), or `share` (0-1: that share of the matching devices, chosen with the simulator's seed),
optionally narrowed by `kind` (a kind of firmware_sim/kinds/registry.py; another is an error);
with neither, every device that supports the fault. `for_s` clears the fault by itself later.

Faults (kinds; parameters; effect):
- `offline` (all; `mode` abrupt (default) or clean): MQTT abrupt = the TCP connection dropped
  without DISCONNECT (the broker publishes the will, unless the device runs with `will: false`);
  clean = status offline with reason shutdown, then DISCONNECT. Events are stored meanwhile and
  sent after the reconnect. Modbus: no answer at all.
- `flaky` (all; `loss` 0-1, default 0.3): MQTT loses that share of heartbeats, and of events the
  PUBACK (the connection drops, the event is sent again: repeats); Modbus leaves that share of
  requests unanswered.
- `slow` (all; `delay_ms`, default 300): Modbus replies (and MQTT acks) wait that long.
- `garbage` (MQTT; `type` bad_json, not_utf8, wrong_types, oversize, surrogate, nul, deep,
  not_object or random; `count`, default 1): malformed messages on the event channel.
- a kind's own faults, declared by the kinds that have them (firmware_sim/kinds/): `jam` (`slot` /
  `door`: the lock no longer releases) and `door_open` (opened and left open) of lock kinds,
  `lens_blocked` (status 1, counting stops) and `wrap` (`margin`, default 100: both counts jump to
  2**32 - margin) of counters, `duplicated_day` of the queue system (it restarts and numbers
  tickets from A001 again the same day; see firmware_sim/kinds/queue.py).
- `reboot` (all; `clock_reset` for MQTT): MQTT = abrupt drop (will), boot, uptime from 0, stored
  events kept; Modbus = uptime (and a counter's counts) restart.
- `clock_drift` (MQTT; `offset_s`, default 300 unless `per_day_s` is given; `per_day_s`, e.g. 90):
  the device clock (`ts`) is off by `offset_s` and drifts `per_day_s` a day from then on.
- `backlog` (MQTT; `events`, default 1000; `repeat`, default 0): that many events queued at once,
  and the last `repeat` sent ones again with the same seq (a range uploaded again). A queue
  system's "events" are the next ones of its day, played ahead of time.
- `clear` (all): every fault above ends (doors close, locks unjam, clock right, link good).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from firmware_sim.garbage import GARBAGE_KINDS
from firmware_sim.kinds.base import FaultError, number
from firmware_sim.kinds.registry import KINDS, kind_faults, kind_of, known_kind
from firmware_sim.mqtt_device import MqttDevice

log = logging.getLogger("firmware_sim.faults")

MQTT_ONLY = {"garbage", "clock_drift", "backlog"}
COMMON = ("offline", "flaky", "slow", "garbage", "reboot", "clock_drift", "backlog", "clear")
FAULTS = (*COMMON[:4], *kind_faults(), *COMMON[4:])  # the kinds' own faults from the registry
TARGET_KEYS = {"fault", "device", "share", "kind", "for_s"}
# one-shot faults: they happen and are over (nothing to clear, not listed as active)
ONE_SHOT = {"garbage", "reboot", "backlog", "clear"} | {
    name for k in KINDS.values() for name, fault in k.faults.items() if fault.clear is None
}


def parse_fault(text: str) -> dict[str, Any]:
    """`NAME[:key=value,...]` or a JSON object, e.g. `jam:device=lb-1f,slot=3` or
    `{"fault": "flaky", "share": 0.2, "loss": 0.5}`. Values are read as YAML scalars."""
    text = text.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as e:
            raise FaultError(f"fault {text!r}: not JSON ({e})") from e
        if not isinstance(spec, dict):
            raise FaultError(f"fault {text!r}: expected a JSON object")
        return spec
    name, _, rest = text.partition(":")
    spec: dict[str, Any] = {"fault": name.strip()}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise FaultError(f"fault {text!r}: {item!r} is not key=value")
        try:
            spec[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            spec[key.strip()] = value
    return spec


Device = Any  # an MqttDevice, or a Modbus device of a kind's own (firmware_sim/kinds/)


def device_kind(device: Device) -> str:
    return kind_of(device).name


@dataclass
class FaultInjector:
    """Applies faults to the devices of one simulator (a hall, or every hall of a district)."""

    devices: Mapping[str, Device]
    seed: int | str = 0
    active: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # device -> name -> spec
    applied: int = 0
    _rng: random.Random = field(init=False)
    _timers: set[asyncio.TimerHandle] = field(default_factory=set)
    on_change: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults:{self.seed}")

    @property
    def active_count(self) -> int:
        return sum(len(v) for v in self.active.values())

    def describe_active(self, limit: int = 4) -> str:
        items = [f"{name} {dev}" for dev, faults in sorted(self.active.items()) for name in sorted(faults)]
        more = f" +{len(items) - limit}" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    def by_kind(self) -> str:
        """The devices by kind, for an error that lists what exists: `lockbox: lb-1f, lb-2f; ...`."""
        kinds: dict[str, list[str]] = {}
        for dev_id, device in self.devices.items():
            kinds.setdefault(device_kind(device), []).append(dev_id)
        return "; ".join(f"{kind}: {', '.join(ids)}" for kind, ids in kinds.items())

    def faults_by_kind(self) -> str:
        """The faults of each kind these devices are of: `lockbox: offline, ..., jam, door_open; ...`."""
        kinds = {device_kind(d): d for d in self.devices.values()}
        return "; ".join(f"{kind}: {', '.join(faults_of(d))}" for kind, d in kinds.items())

    def known(self, spec: Mapping[str, Any]) -> None:
        """Refuse a fault no simulator knows, listing those the named device (or each kind) has."""
        name = spec.get("fault")
        if name in FAULTS:
            return
        wanted = spec.get("device")
        device = self.devices.get(wanted) if isinstance(wanted, str) else None
        where = (
            f"设备 {wanted} ({device_kind(device)}) 可用的故障: {', '.join(faults_of(device))}"
            if device is not None
            else f"可用的故障 (按设备类型): {self.faults_by_kind()}"
        )
        raise FaultError(f"没有这种故障 (unknown_fault): {name!r}; {where}", "unknown_fault")

    def targets(self, spec: Mapping[str, Any]) -> list[str]:
        name = spec.get("fault")
        kind = spec.get("kind")
        if kind is not None:
            known_kind(kind)
        wanted = spec.get("device")
        if wanted is not None:
            ids = [wanted] if isinstance(wanted, str) else list(wanted)
            unknown = [i for i in ids if i not in self.devices]
            if unknown:
                raise FaultError(
                    f"没有这台设备 (unknown_device): {', '.join(map(str, unknown))}; 现有的设备: {self.by_kind()}",
                    "unknown_device",
                )
            return ids
        ids = [
            i for i, d in self.devices.items() if (kind is None or device_kind(d) == kind) and _supports(d, str(name))
        ]
        share = spec.get("share")
        if share is not None:
            if not isinstance(share, int | float) or not 0 <= share <= 1:
                raise FaultError(f"share: must be a number 0-1, not {share!r}")
            n = round(len(ids) * share)
            ids = sorted(self._rng.sample(ids, n)) if n < len(ids) else ids
        return ids

    def check(self, spec: Mapping[str, Any]) -> list[str]:
        """Validate a fault without applying it (the command line checks `--fault` before it
        starts anything); returns the devices it would apply to now."""
        name = spec.get("fault")
        self.known(spec)
        params = {k: v for k, v in spec.items() if k not in TARGET_KEYS}
        ids = self.targets(spec)
        for dev_id in ids:
            device = self.devices[dev_id]
            if not _supports(device, name):
                raise FaultError(
                    f"设备 {dev_id} ({device_kind(device)}) 没有故障 {name} (fault_not_supported); "
                    f"它可用的故障: {', '.join(faults_of(device))}",
                    "fault_not_supported",
                )
            own = kind_of(device).faults.get(name)
            if own is not None and own.check is not None:
                own.check(device, params)
        if name == "offline" and params.get("mode", "abrupt") not in ("abrupt", "clean"):
            raise FaultError(f"mode: offline is abrupt or clean, not {params['mode']!r}")
        if name == "garbage" and params.get("type", "random") not in (*GARBAGE_KINDS, "random"):
            raise FaultError(f"type: garbage is one of {', '.join(GARBAGE_KINDS)} or random, not {params['type']!r}")
        return ids

    def apply(self, spec: Mapping[str, Any]) -> list[str]:
        """Apply one fault; returns the device ids it was applied to."""
        name = spec.get("fault")
        self.known(spec)
        for_s = spec.get("for_s")
        if for_s is not None and (not isinstance(for_s, int | float) or for_s <= 0):
            raise FaultError(f"for_s: must be a positive number of seconds, not {for_s!r}")
        ids = self.targets(spec)
        params = {k: v for k, v in spec.items() if k not in TARGET_KEYS}
        for dev_id in ids:
            device = self.devices[dev_id]
            if not _supports(device, name):
                raise FaultError(
                    f"设备 {dev_id} ({device_kind(device)}) 没有故障 {name} (fault_not_supported); "
                    f"它可用的故障: {', '.join(faults_of(device))}",
                    "fault_not_supported",
                )
            _apply_one(device, name, params)
            if name == "clear":
                self.active.pop(dev_id, None)
            elif name not in ONE_SHOT:
                self.active.setdefault(dev_id, {})[name] = dict(spec)
            log.info("fault %s on %s %s", name, dev_id, params or "")
        self.applied += len(ids)
        if for_s is not None and name not in ONE_SHOT:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(for_s, self._expire, ids, name)
            self._timers.add(handle)
        if self.on_change:
            self.on_change()
        return ids

    def _expire(self, ids: Iterable[str], name: str) -> None:
        self._timers = {t for t in self._timers if not t.cancelled() and t.when() > asyncio.get_running_loop().time()}
        for dev_id in ids:
            faults = self.active.get(dev_id, {})
            if faults.pop(name, None) is None:
                continue
            _clear(self.devices[dev_id], name, faults)
            if not faults:
                self.active.pop(dev_id, None)

    def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()


def faults_of(device: Device) -> list[str]:
    """Every fault this device takes, in the order of FAULTS."""
    return [name for name in FAULTS if _supports(device, name)]


def _supports(device: Device, name: str) -> bool:
    if name in MQTT_ONLY:
        return isinstance(device, MqttDevice)
    return name in COMMON or name in kind_of(device).faults


def _apply_one(device: Device, name: str, params: Mapping[str, Any]) -> None:
    if name == "offline":
        mode = params.get("mode", "abrupt")
        if mode not in ("abrupt", "clean"):
            raise FaultError(f"mode: offline is abrupt or clean, not {mode!r}")
        if isinstance(device, MqttDevice):
            device.go_offline(clean=mode == "clean")
        else:
            device.offline = True
    elif name == "flaky":
        device.loss = number(params, "loss", 0.3, 0, 1)
    elif name == "slow":
        device.reply_delay_s = number(params, "delay_ms", 300, 0, 60_000) / 1000
    elif name == "garbage":
        kind = params.get("type", "random")
        if kind not in (*GARBAGE_KINDS, "random"):
            raise FaultError(f"type: garbage is one of {', '.join(GARBAGE_KINDS)} or random, not {kind!r}")
        assert isinstance(device, MqttDevice)
        device.inject_garbage(kind, int(number(params, "count", 1, 1, 100_000)))
    elif name == "reboot":
        if isinstance(device, MqttDevice):
            device.reboot(clock_reset=bool(params.get("clock_reset", False)))
        else:
            device.reboot()
    elif name == "clock_drift":
        assert isinstance(device, MqttDevice)
        per_day = number(params, "per_day_s", 0, -86400, 86400)
        device.set_drift(number(params, "offset_s", 0 if per_day else 300, -(10**9), 10**9), per_day)
    elif name == "backlog":
        assert isinstance(device, MqttDevice)
        events = int(number(params, "events", 1000, 0, 100_000))
        device.backlog_burst(events, repeat=int(number(params, "repeat", 0, 0, 1000)))
    elif name == "clear":
        for fault in ("offline", "flaky", "slow", "clock_drift", *kind_of(device).faults):
            _clear(device, fault, {})
    else:
        kind_of(device).faults[name].apply(device, params)


def _clear(device: Device, name: str, remaining: Mapping[str, Any]) -> None:
    """End one fault on a device (the others in `remaining` stay)."""
    own = kind_of(device).faults.get(name)
    if name == "offline":
        if isinstance(device, MqttDevice):
            device.come_back()
        else:
            device.offline = False
    elif name == "flaky":
        device.loss = 0.0
    elif name == "slow":
        device.reply_delay_s = 0.0
    elif name == "clock_drift" and isinstance(device, MqttDevice):
        device.set_drift(0.0, 0.0)
    elif own is not None and own.clear is not None:
        own.clear(device)
