"""What both protocols' profiles share: the strict base model, typed field specs, times and limits.

Validated once at load (pydantic, principle 8): a profile that loads compiles, so errors name the
file and the field at start, never at the first message.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from drivers.profiles.absent import check_absent
from drivers.profiles.errors import DecodeError
from drivers.profiles.timefmt import NAMED_FORMATS, is_time_format
from drivers.profiles.values import FIELD_TYPES, FieldType, compile_value

# Device kinds are an open registry owned by the gateway: a profile names one, the gateway checks it.
KindName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Scalar = str | int | float | bool
PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


class ProfileModel(BaseModel):
    """Every profile model: unknown keys are an error (a typo must not pass silently), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _short_form(value: Any) -> Any:
    """`rssi: int` is short for `rssi: {type: int}` (source: the canonical name)."""
    if isinstance(value, str):
        if value not in FIELD_TYPES:
            raise ValueError(
                f"{value!r} 不是字段类型（{'、'.join(FIELD_TYPES)}）；厂商路径请写 {{source: {value}, type: string}}"
            )
        return {"type": value}
    return value


class Band(ProfileModel):
    """One range of a value map: min inclusive, max exclusive; either may be left open."""

    min: float | None = None
    max: float | None = None
    value: Scalar


class FieldSpec(ProfileModel):
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
            raise ValueError(f"min/max 需要 int 或 float 类型，不能是 {self.type}")
        # A translated value must itself be of the declared type, or every message would fail.
        convert = compile_value("map", self.type, max_string=2**20)
        for out in [*(self.map or {}).values(), *(b.value for b in self.ranges or ())]:
            if out is None:
                continue  # absent: no value to type
            try:
                convert(out)
            except DecodeError:
                raise ValueError(f"map/ranges 的取值 {out!r} 不是 {self.type} 类型") from None
        check_absent(self.absent, self.map)
        return self


def fields_short_forms(value: Any) -> Any:
    """A `fields`/`params` validator (mode before): each `name: int` becomes `name: {type: int}`."""
    if isinstance(value, dict):
        return {k: _short_form(v) for k, v in value.items()}
    return value


class TimeSpec(ProfileModel):
    field: str = "ts"
    format: str = "iso8601"  # iso8601, epoch_s/ms/us/ns, or a strptime pattern
    timezone: str | None = None  # IANA zone of naive local times; default the hall's
    require_offset: bool = False  # refuse a time without its UTC offset (instead of reading it as local)

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if not is_time_format(v):
            raise ValueError(f"{v!r} 不是 {'、'.join(NAMED_FORMATS)} 之一，也不是 strptime 格式（含 %）")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{v!r} 不是 IANA 时区（如 Asia/Shanghai）") from None
        return v


class Limits(ProfileModel):
    """Bounds on what a payload may cost to decode; anything over them is quarantined."""

    max_bytes: int = Field(65_536, ge=64, le=16 * 2**20)
    max_depth: int = Field(16, ge=1, le=100)  # JSON nesting (well below Python's recursion limit)
    max_string: int = Field(1024, ge=1, le=2**20)  # characters per string field
    max_items: int = Field(256, ge=1, le=65_536)  # elements per list field


class Liveness(ProfileModel):
    """How the gateway tells a silent device from a dead one."""

    heartbeat_s: float | None = Field(None, gt=0)  # None: the device sends no heartbeats
    offline_after: int = Field(3, ge=1)  # missed heartbeats after which it is offline

    @property
    def offline_after_s(self) -> float | None:
        return None if self.heartbeat_s is None else self.heartbeat_s * self.offline_after
