"""Device profiles: a vendor's topics, JSON fields and registers as data (YAML in configs/profiles/)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(_Model):
    """One canonical field: where it is in the vendor's JSON and how its values translate."""

    source: str  # dotted path into the payload
    map: dict[str, Any] | None = None  # vendor value (as text) -> canonical value


class Channel(_Model):
    """One MQTT channel (the last topic level): which canonical event(s) it carries."""

    event: str | None = None  # a fixed canonical event name ...
    type_field: str | None = None  # ... or the payload field that names the event
    types: dict[str, str] = {}  # vendor type -> canonical event name (unlisted types are rejected)
    fields: dict[str, str | FieldMap] = {}  # canonical name -> vendor path or FieldMap
    required: list[str] = []  # canonical fields that must be present

    @model_validator(mode="after")
    def _event_or_type(self) -> Channel:
        if (self.event is None) == (self.type_field is None):
            raise ValueError("a channel has either `event` or `type_field` with `types`")
        return self


class Timestamp(_Model):
    field: str = "ts"
    format: Literal["iso8601", "epoch_s", "epoch_ms"] = "iso8601"


class MqttProfile(_Model):
    name: str
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    protocol: Literal["mqtt"]
    vendor: str = ""
    topic_kind: str  # the {kind} level of the vendor's topics
    timestamp: Timestamp = Timestamp()
    seq_field: str | None = "seq"
    channels: dict[str, Channel]
    commands: dict[str, dict[str, Any]] = {}  # canonical op -> payload template (used by commands)


RegisterTable = Literal["coil", "discrete", "input", "holding"]
ValueType = Literal["bool", "bits", "uint16", "int16", "uint32", "int32", "float32"]


class Signal(_Model):
    table: RegisterTable
    address: int = Field(ge=0, le=65535)
    type: ValueType = "uint16"
    count: int = Field(1, ge=1, le=2000)  # for `bits`: how many
    scale: float | None = None
    map: dict[int, str] | None = None  # enumerations: register value -> canonical text
    flags: dict[int, str] | None = None  # status bits: bit number -> canonical flag name

    @model_validator(mode="after")
    def _fits_table(self) -> Signal:
        bit_table = self.table in ("coil", "discrete")
        if bit_table != (self.type in ("bool", "bits")):
            raise ValueError(f"type {self.type} does not fit the {self.table} table")
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) the signal occupies."""
        if self.type == "bits":
            return self.count
        return 2 if self.type in ("uint32", "int32", "float32") else 1


class ModbusProfile(_Model):
    name: str
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    protocol: Literal["modbus"]
    vendor: str = ""
    # 32-bit word and byte order, as Telegraf names them: ABCD is big-endian, high word first.
    byte_order: Literal["ABCD", "BADC", "CDAB", "DCBA"] = "ABCD"
    # Registers that may be read across between two signals; 0 because reading outside the
    # map is an error on most devices.
    max_gap: int = Field(0, ge=0, le=100)
    signals: dict[str, Signal]
    commands: dict[str, dict[str, Any]] = {}


Profile = Annotated[MqttProfile | ModbusProfile, Field(discriminator="protocol")]
