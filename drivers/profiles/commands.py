"""Canonical commands -> a device's wire format, as its profile says (issue 6). Pure, no I/O.

The gateway's command service (role, idempotency, timeout, audit) calls these; they only
validate parameters against the profile's types and build what goes on the wire, plus what
proves the command worked: the ack to wait for (MQTT) or the read-back to poll for (Modbus).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drivers.profiles.errors import CommandError, DecodeError
from drivers.profiles.modbus_model import Condition, ModbusCommand, ModbusProfile
from drivers.profiles.mqtt_model import AckSpec, MqttCommand, MqttProfile
from drivers.profiles.specs import PLACEHOLDER, FieldSpec
from drivers.profiles.values import check_text, compile_value, value_key

MAX_ID = 64  # device-protocols.md: a command id is 1-64 characters


def _params(op: str, specs: Mapping[str, FieldSpec], params: Mapping[str, Any]) -> dict[str, Any]:
    extra = set(params) - set(specs)
    if extra:
        raise CommandError(f"{op}: unknown parameters {sorted(extra)} (takes {sorted(specs) or 'none'})")
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in params:
            raise CommandError(f"{op}: parameter {name} is missing")
        convert = compile_value(
            f"{op}.{name}", spec.type, minimum=spec.min, maximum=spec.max, enum=spec.enum, max_length=spec.max_length
        )
        try:
            out[name] = convert(params[name])
        except DecodeError as e:
            raise CommandError(f"{op}: bad parameter: {e}") from None
    return out


def _lookup(profile: MqttProfile | ModbusProfile, op: str) -> MqttCommand | ModbusCommand:
    cmd = profile.commands.get(op)
    if cmd is None:
        raise CommandError(f"profile {profile.name} has no command {op!r} (has {sorted(profile.commands)})")
    return cmd


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    if isinstance(template, str) and (m := PLACEHOLDER.match(template)):
        return values[m.group(1)]
    return template


# -- MQTT ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MqttCommandWire:
    channel: str  # the topic's channel level (MqttDecoder.command_topic gives the whole topic)
    payload: bytes
    ack: AckSpec | None  # what answers it: channel, id field, ok and error fields, timeout

    def __iter__(self) -> Any:  # `channel, payload = encode_mqtt_command(...)`
        return iter((self.channel, self.payload))


def encode_mqtt_command(profile: MqttProfile, op: str, params: Mapping[str, Any], cmd_id: str) -> MqttCommandWire:
    """(channel, payload bytes) of a command, with its ack spec. Raises CommandError."""
    cmd = _lookup(profile, op)
    assert isinstance(cmd, MqttCommand)
    if not isinstance(cmd_id, str) or not 1 <= len(cmd_id) <= MAX_ID:
        raise CommandError(f"{op}: a command id is 1-{MAX_ID} characters, got {cmd_id!r:.80}")
    try:
        check_text(cmd_id, f"{op}.id", MAX_ID)
    except DecodeError as e:
        raise CommandError(str(e)) from None
    values = _params(op, cmd.params, params)
    payload = _fill(cmd.payload, {**values, "id": cmd_id})
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return MqttCommandWire(cmd.channel, body, cmd.ack)


# -- Modbus ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModbusWrite:
    table: Literal["coil", "holding"]
    address: int
    value: int | bool


@dataclass(frozen=True, slots=True)
class Check:
    """One resolved condition over a poll's values (see `Confirmation`)."""

    signal: str
    index: int | None
    equals: Any = None
    at_most: float | None = None

    def holds(self, values: Mapping[str, Any]) -> bool:
        value = values.get(self.signal)
        if value is None:
            return False
        if self.index is not None:
            if isinstance(value, list):
                if not 0 <= self.index < len(value):
                    return False
                value = value[self.index]
            elif isinstance(value, int) and not isinstance(value, bool):
                value = bool(value >> self.index & 1)  # a bitmap register: bit n is door n
            else:
                return False
        if self.at_most is not None:
            return isinstance(value, int | float) and not isinstance(value, bool) and value <= self.at_most
        return value_key(value) == value_key(self.equals)


@dataclass(frozen=True, slots=True)
class Confirmation:
    when: tuple[Check, ...]  # all hold: confirmed
    fail_when: tuple[Check, ...]  # any holds: failed
    timeout_s: float

    def check(self, values: Mapping[str, Any]) -> Literal["confirmed", "failed", "pending"]:
        """The verdict on one poll's values (ReadPlan.decode); 'pending' until timeout_s."""
        if any(c.holds(values) for c in self.fail_when):
            return "failed"
        if all(c.holds(values) for c in self.when):
            return "confirmed"
        return "pending"


@dataclass(frozen=True, slots=True)
class ModbusCommandWire:
    writes: tuple[ModbusWrite, ...]
    confirm: Confirmation | None


def encode_modbus_command(profile: ModbusProfile, op: str, params: Mapping[str, Any]) -> ModbusCommandWire:
    """The register writes of a command and the read-back that confirms it. Raises CommandError."""
    cmd = _lookup(profile, op)
    assert isinstance(cmd, ModbusCommand)
    values = _params(op, cmd.params, params)

    def index(ref: str | int | None) -> int | None:
        if ref is None or isinstance(ref, int):
            return ref
        n = values[ref] - cmd.index_base
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise CommandError(f"{op}: {ref}={values[ref]!r} is below the first index {cmd.index_base}")
        return n

    writes = []
    for w in cmd.writes:
        address = w.address + (index(w.index) or 0)
        if address > 65535:
            raise CommandError(f"{op}: address {address} is beyond 65535")
        value = _fill(w.value, values)
        if w.table == "coil":
            value = bool(value)
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise CommandError(f"{op}: holding register value {value!r} is not 0-65535")
        writes.append(ModbusWrite(w.table, address, value))

    def resolve(c: Condition) -> Check:
        return Check(c.signal, index(c.index), c.equals, c.at_most)

    confirm = None
    if cmd.confirm is not None:
        confirm = Confirmation(
            tuple(map(resolve, cmd.confirm.when)), tuple(map(resolve, cmd.confirm.fail_when)), cmd.confirm.timeout_s
        )
    return ModbusCommandWire(tuple(writes), confirm)
