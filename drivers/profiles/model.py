"""Device profiles: a vendor's topics, JSON fields, registers and commands as data (YAML).

Validated once at load (pydantic, principle 8): a profile that loads compiles, so errors name the
file and the field at start, never at the first message.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from drivers.profiles.absent import check_absent, check_params, check_register_absent
from drivers.profiles.errors import DecodeError
from drivers.profiles.timefmt import NAMED_FORMATS, is_time_format
from drivers.profiles.values import FIELD_TYPES, FieldType, compile_value

# Device kinds are an open registry owned by the gateway: a profile names one, the gateway checks it.
KindName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Scalar = str | int | float | bool
PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _short_form(value: Any) -> Any:
    """`rssi: int` is short for `rssi: {type: int}` (source: the canonical name)."""
    if isinstance(value, str):
        if value not in FIELD_TYPES:
            raise ValueError(
                f"{value!r} is not a field type ({', '.join(FIELD_TYPES)}); "
                f"for a vendor path write {{source: {value}, type: string}}"
            )
        return {"type": value}
    return value


class Band(_Model):
    """One range of a value map: min inclusive, max exclusive; either may be left open."""

    min: float | None = None
    max: float | None = None
    value: Scalar


class FieldSpec(_Model):
    """One typed canonical field: where it is in the vendor's JSON and what it may hold."""

    source: str | None = None  # dotted path into the payload; default: the canonical name
    type: FieldType  # declared, always: one InfluxDB type per field
    min: float | None = None
    max: float | None = None
    enum: list[Scalar] | None = None  # allowed canonical values
    # vendor value -> canonical value (keys keep their JSON type); null: the vendor's "no value"
    map: dict[Scalar, Scalar | None] | None = None
    ranges: list[Band] | None = None  # numeric vendor value -> canonical value
    max_length: int | None = Field(None, ge=1)  # strings; default the profile's limits.max_string
    # The vendor's "no value" values (a pad's 0 for not rated): the field is left out of the event,
    # and the device kind decides what an event without it is (gateway/kinds/contract.py).
    absent: list[Scalar] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"min/max need type int or float, not {self.type}")
        # A translated value must itself be of the declared type, or every message would fail.
        convert = compile_value("map", self.type, max_string=2**20)
        for out in [*(self.map or {}).values(), *(b.value for b in self.ranges or ())]:
            if out is None:
                continue  # absent: no value to type
            try:
                convert(out)
            except DecodeError:
                raise ValueError(f"map/ranges value {out!r} is not of type {self.type}") from None
        check_absent(self.absent, self.map)
        return self


def _fields_short_forms(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _short_form(v) for k, v in value.items()}
    return value


class TimeSpec(_Model):
    field: str = "ts"
    format: str = "iso8601"  # iso8601, epoch_s/ms/us/ns, or a strptime pattern
    timezone: str | None = None  # IANA zone of naive local times; default the hall's
    require_offset: bool = False  # refuse a time without its UTC offset (instead of reading it as local)

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if not is_time_format(v):
            raise ValueError(f"{v!r} is not {', '.join(NAMED_FORMATS)} or a strptime pattern (with %)")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{v!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return v


class Channel(_Model):
    """One MQTT channel (a topic level or a payload field value): which canonical event(s) it carries."""

    event: str | None = None  # a fixed canonical event name ...
    type_field: str | None = None  # ... or the payload field that names the event
    types: dict[str, str] = {}  # vendor type -> canonical event name (unlisted types are rejected)
    fields: dict[str, FieldSpec] = {}  # canonical name -> typed spec (`name: int` is the short form)
    required: list[str] = []  # canonical fields that must be present
    # How this channel's events are timed: `device` (its timestamp field, required) or `arrival`
    # (the gateway's receive time: for devices without a clock).
    time: Literal["device", "arrival"] = "device"
    timestamp: TimeSpec | None = None  # overrides the profile's timestamp for this channel
    # The device's MQTT will (and clean-shutdown) payload: a message holding these values may lack
    # a time, because the broker sends it on the device's behalf. E.g. {state: offline}.
    will: dict[str, Scalar] | None = None

    _short = field_validator("fields", mode="before")(_fields_short_forms)

    @model_validator(mode="after")
    def _event_or_type(self) -> Channel:
        if (self.event is None) == (self.type_field is None):
            raise ValueError("a channel has either `event` or `type_field` with `types`")
        if self.type_field is not None and not self.types:
            raise ValueError("`type_field` needs `types` (vendor type -> canonical event)")
        unknown = [f for f in self.required if f not in self.fields]
        if unknown:
            raise ValueError(f"required fields {unknown} are not in fields")
        return self


class Limits(_Model):
    """Bounds on what a payload may cost to decode; anything over them is quarantined."""

    max_bytes: int = Field(65_536, ge=64, le=16 * 2**20)
    max_depth: int = Field(16, ge=1, le=100)  # JSON nesting (well below Python's recursion limit)
    max_string: int = Field(1024, ge=1, le=2**20)  # characters per string field
    max_items: int = Field(256, ge=1, le=65_536)  # elements per list field


class Liveness(_Model):
    """How the gateway tells a silent device from a dead one."""

    heartbeat_s: float | None = Field(None, gt=0)  # None: the device sends no heartbeats
    offline_after: int = Field(3, ge=1)  # missed heartbeats after which it is offline

    @property
    def offline_after_s(self) -> float | None:
        return None if self.heartbeat_s is None else self.heartbeat_s * self.offline_after


class AckSpec(_Model):
    """The device's answer to a command: on which channel, and how it is matched and read."""

    channel: str = "ack"
    # Canonical fields of the ack channel's decoded event (not vendor paths: the hub sees events).
    id_field: str = "id"  # repeats the command id
    ok_field: str = "ok"  # bool
    error_field: str | None = "error"
    timeout_s: float = Field(10.0, gt=0)


def _placeholders(template: Any) -> set[str]:
    """Names of the `"{name}"` values in a payload template (whole values only, so types survive)."""
    found: set[str] = set()
    if isinstance(template, dict):
        for v in template.values():
            found |= _placeholders(v)
    elif isinstance(template, list):
        for v in template:
            found |= _placeholders(v)
    elif isinstance(template, str):
        m = PLACEHOLDER.match(template)
        if m:
            found.add(m.group(1))
        elif "{" in template:
            raise ValueError(f'{template!r}: a placeholder is a whole value, like "{{slot}}"')
    return found


class MqttCommand(_Model):
    """A JSON command: a payload template with typed parameters, and the ack that answers it."""

    channel: str = "cmd"
    params: dict[str, FieldSpec] = {}
    payload: dict[str, Any]  # "{param}" values become the typed parameter, "{id}" the command id
    ack: AckSpec | None = AckSpec()

    _short = field_validator("params", mode="before")(_fields_short_forms)

    @model_validator(mode="after")
    def _template(self) -> MqttCommand:
        check_params(self.params)
        used = _placeholders(self.payload)
        unknown = used - set(self.params) - {"id"}
        if unknown:
            raise ValueError(f"payload uses {sorted(unknown)}, which are not params")
        unused = set(self.params) - used
        if unused:
            raise ValueError(f"params {sorted(unused)} are not used in the payload")
        if self.ack is not None and "id" not in used:
            raise ValueError('an acknowledged command carries its id: add id: "{id}" to the payload')
        return self


DEFAULT_TOPIC = "hall/{site}/{topic_kind}/{device}/{channel}"
_TOPIC_FIELDS = {"site", "topic_kind", "device", "channel"}


def _topic_fields(template: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    if not names <= _TOPIC_FIELDS:
        raise ValueError(
            f"{template!r}: unknown placeholders {sorted(names - _TOPIC_FIELDS)} "
            f"(use {', '.join(sorted(_TOPIC_FIELDS))})"
        )
    if any(c in template for c in "#+"):
        raise ValueError(f"{template!r}: wildcards are not allowed in a device's topic")
    return names


class MqttProfile(_Model):
    name: str
    kind: KindName
    protocol: Literal["mqtt"]
    vendor: str = ""
    topic_kind: str  # the {topic_kind} level of the vendor's topics
    topic: str = DEFAULT_TOPIC  # where the device publishes
    channel_field: str | None = None  # the payload field naming the channel (one topic for all)
    command_topic: str | None = None  # where commands go; default: `topic` with {channel} = the command's
    timestamp: TimeSpec = TimeSpec()
    seq_field: str | None = "seq"
    limits: Limits = Limits()
    liveness: Liveness = Liveness()
    channels: dict[str, Channel]
    commands: dict[str, MqttCommand] = {}

    @model_validator(mode="after")
    def _topics(self) -> MqttProfile:
        names = _topic_fields(self.topic)
        if "device" not in names:
            raise ValueError(f"topic {self.topic!r} must contain {{device}}")
        if self.channel_field is None and "channel" not in names:
            raise ValueError(f"topic {self.topic!r} needs {{channel}}, or set channel_field")
        if self.channel_field is not None and "channel" in names:
            raise ValueError("with channel_field the payload names the channel: remove {channel} from topic")
        if self.command_topic is not None:
            cmd_names = _topic_fields(self.command_topic)
            if "device" not in cmd_names:
                raise ValueError(f"command_topic {self.command_topic!r} must contain {{device}}")
        elif self.commands and "channel" not in names:
            raise ValueError("commands need a command_topic when the payload names the channel")
        for op, cmd in self.commands.items():
            if cmd.ack is None:
                continue
            ack_channel = self.channels.get(cmd.ack.channel)
            if ack_channel is None:
                raise ValueError(f"commands.{op}.ack.channel {cmd.ack.channel!r} is not a channel")
            # The ack is matched on the decoded (canonical) event, so its fields must be decoded.
            for f in (cmd.ack.id_field, cmd.ack.ok_field, cmd.ack.error_field):
                if f is not None and f not in ack_channel.fields:
                    raise ValueError(f"commands.{op}.ack: {f!r} is not a field of channel {cmd.ack.channel}")
        return self

    def topic_base(self, site: str, device: str) -> str:
        """The device's topic without its last `/{channel}` level (what the hub appends channels to).

        A profile whose channel is not the last level (or is in the payload) has no such base: use
        `MqttDecoder.topics` instead; this then returns the whole topic without its channel level.
        """
        template = self.topic.removesuffix("/{channel}")
        return template.replace("{channel}", "+").format(site=site, topic_kind=self.topic_kind, device=device)


RegisterTable = Literal["coil", "discrete", "input", "holding"]
ValueType = Literal[
    "bool", "bits", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
ByteOrder = Literal["ABCD", "BADC", "CDAB", "DCBA"]
WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4, "float32": 2, "float64": 4}
_WRAPS = {"uint16": 2**16, "uint32": 2**32, "uint64": 2**64}


class Signal(_Model):
    table: RegisterTable
    address: int = Field(ge=0, le=65535)
    type: ValueType = "uint16"
    count: int | None = Field(None, ge=1, le=2000)  # bits: how many; string: registers (2 characters each)
    bit: int | None = Field(None, ge=0, le=15)  # bool in a register: which bit
    byte_order: ByteOrder | None = None  # default: the profile's
    scale: float | None = None
    offset: float | None = None
    map: dict[int, str | None] | None = None  # enumerations: register value -> canonical text (null: absent)
    flags: dict[int, str] | None = None  # status bits: bit number -> canonical flag name
    # A counter that wraps: `counter: true` wraps at its type's range (uint16 at 65,536, uint32 at
    # 2^32); `wrap: N` when the device wraps elsewhere (e.g. at 100,000 on a 32-bit register).
    counter: bool = False
    wrap: int | None = Field(None, ge=2)
    # Raw register values that mean "no reading" (0xFFFF on many sensors): left out of the reading,
    # compared before scale, offset or map.
    absent: list[int] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Signal:
        bit_table = self.table in ("coil", "discrete")
        if bit_table and self.type not in ("bool", "bits"):
            raise ValueError(f"type {self.type} does not fit the {self.table} table")
        if self.type in ("bits", "string") and self.count is None:
            raise ValueError(f"type {self.type} needs count")
        if self.type not in ("bits", "string") and self.count is not None:
            raise ValueError(f"count is for bits and string, not {self.type}")
        if self.bit is not None and (bit_table or self.type != "bool"):
            raise ValueError("bit picks one bit of a register for a bool signal")
        if self.type == "string" and self.count is not None and self.count > 125:
            raise ValueError("a string is at most 125 registers")
        transforms = [n for n in ("scale", "offset", "map", "flags") if getattr(self, n) is not None]
        if transforms and self.type in ("bool", "bits", "string"):
            raise ValueError(f"{', '.join(transforms)} need a numeric type, not {self.type}")
        if self.map is not None and self.flags is not None:
            raise ValueError("a signal has map or flags, not both")
        if (self.map is not None or self.flags is not None) and (self.scale or self.offset):
            raise ValueError("map/flags work on the raw value: no scale or offset")
        unsigned = self.type in ("uint16", "uint32", "uint64")
        if (self.counter or self.wrap is not None) and (not unsigned or transforms):
            raise ValueError("a counter is an unsigned integer (uint16/32/64) without scale, offset or map")
        check_register_absent(self.absent, self.map, self.type)
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) the signal occupies."""
        if self.table in ("coil", "discrete"):
            return self.count if self.type == "bits" and self.count else 1
        if self.type == "bits":
            return -(-(self.count or 1) // 16)
        if self.type == "string":
            return self.count or 1
        return WORDS.get(self.type, 1)

    @property
    def wraps_at(self) -> int | None:
        if self.wrap is not None:
            return self.wrap
        return _WRAPS.get(self.type) if self.counter else None

    @property
    def field_type(self) -> str:
        """The canonical type of the decoded value (see values.INFLUX_TYPES)."""
        if self.type == "bool":
            return "bool"
        if self.type == "bits":
            return "bits"
        if self.type == "string" or self.map is not None:
            return "string"
        if self.flags is not None:
            return "strings"
        if self.type.startswith("float") or self.scale is not None or self.offset is not None:
            return "float"
        return "int"


class Condition(_Model):
    """One test of a read-back: a signal (an element or bit of it) equals, or is at most, a value."""

    signal: str
    index: str | int | None = None  # a param name or a fixed number: element of bits, bit of an integer
    equals: Scalar | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if (self.equals is None) == (self.at_most is None):
            raise ValueError("a condition has either equals or at_most")
        return self


class Confirm(_Model):
    when: list[Condition] = Field(min_length=1)  # all hold: the command took effect
    fail_when: list[Condition] = []  # any holds: the device reports failure
    timeout_s: float = Field(5.0, gt=0)


class Write(_Model):
    table: Literal["coil", "holding"]
    address: int = Field(ge=0, le=65535)
    index: str | None = None  # a param added to address (minus the command's index_base)
    value: Scalar  # a number, true/false, or "{param}"


class ModbusCommand(_Model):
    """Register writes, and the read-back that proves them (a written coil proves nothing)."""

    params: dict[str, FieldSpec] = {}
    index_base: int = Field(0, ge=0)  # the number of the first door/slot in params used as an index
    writes: list[Write] = Field(min_length=1)
    confirm: Confirm | None = None

    _short = field_validator("params", mode="before")(_fields_short_forms)

    @model_validator(mode="after")
    def _params_exist(self) -> ModbusCommand:
        check_params(self.params)
        named = [w.index for w in self.writes]
        named += [w.value[1:-1] for w in self.writes if isinstance(w.value, str)]
        if self.confirm is not None:
            named += [c.index for c in (*self.confirm.when, *self.confirm.fail_when)]
        for w in self.writes:
            if isinstance(w.value, str) and not PLACEHOLDER.match(w.value):
                raise ValueError(f'write value {w.value!r} is not a number, true/false or "{{param}}"')
        unknown = {n for n in named if isinstance(n, str) and n not in self.params}
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not params")
        return self


class ModbusProfile(_Model):
    name: str
    kind: KindName
    protocol: Literal["modbus"]
    vendor: str = ""
    # Word and byte order of multi-register values, as Telegraf names them: ABCD is big-endian,
    # high word first; CDAB swaps the words, BADC the bytes in each word, DCBA both.
    byte_order: ByteOrder = "ABCD"
    # Registers that may be read across between two signals; 0 because reading outside the
    # map is an error on most devices.
    max_gap: int = Field(0, ge=0, le=100)
    signals: dict[str, Signal]
    commands: dict[str, ModbusCommand] = {}

    @model_validator(mode="after")
    def _confirm_signals(self) -> ModbusProfile:
        for op, cmd in self.commands.items():
            if cmd.confirm is None:
                continue
            for c in (*cmd.confirm.when, *cmd.confirm.fail_when):
                if c.signal not in self.signals:
                    raise ValueError(f"commands.{op}.confirm: {c.signal!r} is not a signal")
        return self


Profile = Annotated[MqttProfile | ModbusProfile, Field(discriminator="protocol")]
