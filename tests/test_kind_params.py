"""A kind's device parameters are its own: declared in its package (`Kind.device_params`), composed
into the device model of the configuration (gateway/config/devices.py), checked per kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import Field, ValidationError

from gateway.config.devices import Device, compose
from gateway.kinds.base import Kind, Param
from gateway.kinds.registry import KINDS, device_params, register

MAST = Kind(
    name="wind_mast",
    description="wind mast",
    params=frozenset({"height_m", "zone"}),
    required_params=frozenset({"height_m"}),
    device_params={"height_m": Param(float, Field(None, gt=0, le=200))},
)


@pytest.fixture
def mast() -> Iterator[type[Any]]:
    register(MAST)
    try:
        yield compose()
    finally:
        del KINDS[MAST.name]


def test_the_reference_kinds_bring_their_parameters_to_the_device_model() -> None:
    assert {"zone", "window", "slots", "doors", "from_zone"} <= set(device_params())
    assert {"zone", "window", "slots", "doors", "from_zone"} <= set(Device.model_fields)
    with pytest.raises(ValidationError, match="less than or equal to 48"):
        Device.model_validate({"id": "lb", "kind": "lockbox", "profile": "p", "slots": 49})


def test_a_kinds_own_parameter_is_composed_typed_and_taken_by_it_only(mast: type[Any]) -> None:
    assert mast.model_validate({"id": "m", "kind": "wind_mast", "profile": "p", "height_m": 12.5}).height_m == 12.5
    with pytest.raises(ValidationError, match="greater than 0"):
        mast.model_validate({"id": "m", "kind": "wind_mast", "profile": "p", "height_m": -1})
    with pytest.raises(ValidationError, match="height_m: wind_mast 设备必须填写 height_m：请补上"):
        mast.model_validate({"id": "m", "kind": "wind_mast", "profile": "p"})
    with pytest.raises(ValidationError, match="height_m: rating_pad 设备没有 height_m 参数"):
        mast.model_validate({"id": "r", "kind": "rating_pad", "profile": "p", "window": "W1", "height_m": 3})


def test_a_parameter_has_one_definition() -> None:
    other = Kind(name="other_mast", description="x", device_params={"height_m": Param(int)})
    register(MAST)
    try:
        with pytest.raises(ValueError, match="parameter 'height_m' is wind_mast's already"):
            register(other)
        with pytest.raises(ValueError, match="parameter 'zone' is common's already"):
            register(Kind(name="zoned", description="x", device_params={"zone": Param(str)}))
    finally:
        del KINDS[MAST.name]
    assert "other_mast" not in KINDS and "zoned" not in KINDS
