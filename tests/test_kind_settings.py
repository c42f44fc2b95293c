"""A kind brings its own section of the hall file (`Kind.settings`): the hall configuration composes
it from the registry, validates it with its field paths, and drives the kind's hall-wide check, its
reference check and its secrets from the declaration, without naming the kind."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, ValidationError

from gateway.config.base import Model
from gateway.config.hall import compose
from gateway.config.load import apply_env, load_config
from gateway.config.references import reference_problems
from gateway.config.secrets import missing_secrets
from gateway.kinds.base import DeviceParams, Kind, Settings
from gateway.kinds.registry import KINDS, register


class Alarm(Model):
    token_env: str | None = None


class Climate(Model):
    max_c: float = Field(28.0, gt=0)
    watched: list[str] = Field(default_factory=list, description="device ids of this kind")
    alarm: Alarm | None = None


def _below_closing(hall: Any) -> None:
    if hall.climate.max_c > 40:
        raise ValueError(f"climate.max_c: {hall.climate.max_c:g} °C is no comfort limit")


def _watched(section: Climate, devices: Sequence[DeviceParams]) -> list[tuple[str, str]]:
    ours = {d.id for d in devices if d.kind == "climate"}
    return [
        (f"climate.watched[{i}]", f"{d!r} is not a climate sensor")
        for i, d in enumerate(section.watched)
        if d not in ours
    ]


CLIMATE = Kind(
    name="climate",
    description="temperature and humidity sensor",
    params=frozenset({"zone"}),
    settings=Settings("climate", Climate, check=_below_closing, references=_watched, secrets=("alarm.token_env",)),
)


@pytest.fixture
def climate() -> Iterator[type[Any]]:
    register(CLIMATE)
    try:
        yield compose()
    finally:
        del KINDS[CLIMATE.name]


def _devices() -> list[dict[str, Any]]:
    return [{"id": "c1", "kind": "climate", "profile": "p"}, {"id": "p1", "kind": "rating_pad", "profile": "p"}]


def test_a_kinds_section_is_composed_with_its_defaults_and_the_others_stay(climate: type[Any]) -> None:
    cfg = climate.model_validate({"site": "s", "climate": {"max_c": 26}})
    assert cfg.climate.max_c == 26
    assert climate.model_validate({"site": "s"}).climate == Climate()
    # The other kinds' sections and the hall-wide parts are still there, devices last.
    assert {"ratings", "occupancy", "lockers", "api"} <= set(climate.model_fields)
    assert list(climate.model_fields)[-2:] == ["profiles_dirs", "devices"]


def test_a_kinds_section_errors_carry_its_field_path(climate: type[Any]) -> None:
    with pytest.raises(ValidationError) as e:
        climate.model_validate({"site": "s", "climate": {"max_c": 0, "colour": "red"}})
    assert {tuple(err["loc"]) for err in e.value.errors()} == {("climate", "max_c"), ("climate", "colour")}


def test_the_kinds_hall_wide_check_runs_on_the_whole_hall(climate: type[Any]) -> None:
    with pytest.raises(ValidationError, match=r"climate.max_c: 45 °C is no comfort limit"):
        climate.model_validate({"site": "s", "climate": {"max_c": 45}})


def test_the_kinds_references_are_checked_against_the_halls_devices(climate: type[Any]) -> None:
    cfg = climate.model_validate({"site": "s", "devices": _devices(), "climate": {"watched": ["c1", "p1"]}})
    assert reference_problems(cfg) == [("climate.watched[1]", "'p1' is not a climate sensor")]


def test_the_kinds_secrets_are_required_and_not_read_as_overrides(climate: type[Any]) -> None:
    raw = {"site": "s", "climate": {"alarm": {"token_env": "HALLGATE_CLIMATE_TOKEN"}}}
    cfg = climate.model_validate(raw)
    assert missing_secrets(cfg, {}) == [
        ("climate.alarm.token_env", "环境变量 HALLGATE_CLIMATE_TOKEN 未设置：请 export (secret_missing)")
    ]
    assert missing_secrets(cfg, {"HALLGATE_CLIMATE_TOKEN": "x" * 20}) == []
    # Named as a secret, the variable is not an override (it would set a field `climate_token`).
    assert apply_env(raw, {"HALLGATE_CLIMATE_TOKEN": "x" * 20}) == []
    assert "climate_token" not in raw


def test_loading_refuses_to_run_without_a_kind_registered_after_the_hall_was_composed(
    climate: type[Any], tmp_path: Path
) -> None:
    path = tmp_path / "hall.yaml"
    path.write_text("site: s\n")
    with pytest.raises(RuntimeError, match=r"kind settings \['climate'\] registered after"):
        load_config(path, {})
