"""One device of the hall: its id, kind, profile, the kind's parameters and its link.

The parameters only some kinds take (a window, a number of slots or doors) are declared by
the kinds (`Kind.device_params`, gateway/kinds/); the model is composed from every registered
kind's when this module is imported, so a kind with parameters of its own registers before that.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model, field_validator, model_validator

from gateway.config.base import Model
from gateway.config.links import ModbusLink, MqttLink
from gateway.kinds.registry import KINDS, device_params


def _known_kind(cls: type, v: str) -> str:
    if v not in KINDS:
        raise ValueError(f"此处不允许 {v!r}：请填 {'、'.join(repr(k) for k in KINDS)} 之一")
    return v


def _kind_params(self: Any) -> Any:
    kind = KINDS[self.kind]
    for name in device_params():
        if getattr(self, name) is not None and name not in kind.params:
            raise ValueError(
                f"{name}: {self.kind} 设备没有 {name} 参数：请删去"
                f"（{self.kind} 可用参数：{'、'.join(sorted(kind.params)) or '无'}）"
            )
    for name in sorted(kind.required_params):
        if getattr(self, name) is None:
            raise ValueError(f"{name}: {self.kind} 设备必须填写 {name}：请补上")
    return self


def compose() -> type[Model]:
    """The device model: id, kind and profile, every registered kind's parameters, the link."""
    params = {name: (p.type | None, p.field if p.field is not None else None) for name, p in device_params().items()}
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Device",
        __base__=Model,
        __validators__={
            "_known_kind": field_validator("kind")(classmethod(_known_kind)),  # type: ignore[arg-type]
            "_kind_params": model_validator(mode="after")(_kind_params),
        },
        id=(str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")),
        kind=(str, ...),
        profile=(str, ...),
        **params,
        poll_interval_s=(float, Field(1.0, gt=0)),
        mqtt=(MqttLink | None, None),
        modbus=(ModbusLink | None, None),
        sim=(dict[str, Any], Field({}, description="options for the simulators only; the gateway ignores them")),
    )


Device = compose()
