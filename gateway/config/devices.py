"""One device of the hall: its id, kind, profile, the kind's parameters and its link."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model
from gateway.config.links import ModbusLink, MqttLink
from gateway.kinds.base import KIND_PARAMS
from gateway.kinds.registry import KINDS


class Device(Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: str
    profile: str
    # Kind parameters (gateway/kinds/ says which kind takes which):
    zone: str | None = None  # counters: the zone IN leads into; other devices: where they stand
    from_zone: str | None = None  # counters between two zones: where IN comes from
    window: str | None = None  # rating pads
    slots: int | None = Field(None, ge=1, le=48)  # lockboxes
    doors: int | None = Field(None, ge=1, le=192)  # pickup lockers
    poll_interval_s: float = Field(1.0, gt=0)
    mqtt: MqttLink | None = None
    modbus: ModbusLink | None = None
    sim: dict[str, Any] = Field({}, description="options for the simulators only; the gateway ignores them")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"{v!r} is not allowed here: use {', '.join(repr(k) for k in KINDS)}")
        return v

    @model_validator(mode="after")
    def _kind_params(self) -> Device:
        kind = KINDS[self.kind]
        for name in KIND_PARAMS:
            if getattr(self, name) is not None and name not in kind.params:
                raise ValueError(
                    f"{name}: a {self.kind} takes no {name}; remove it "
                    f"({self.kind} takes: {', '.join(sorted(kind.params)) or 'none'})"
                )
        for name in sorted(kind.required_params):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: a {self.kind} needs {name}: add it")
        return self
