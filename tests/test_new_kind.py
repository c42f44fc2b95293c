"""A new device kind needs a kind module, a profile and a simulator: no edit to the hub, the API
(its routes come in with it) or the health module. Tried with a temperature and humidity sensor
over real Modbus TCP, next to an MQTT rating pad on a real Mosquitto; the new kind's projection
raises on every event, and the link keeps acknowledging while the other projections keep running."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pymodbus.constants import ExcCodes

from firmware_sim.modbus_bus import ModbusBus
from gateway.api.app import kind_routers
from gateway.api.deps import RoleDep, ViewDep
from gateway.config.load import load_config
from gateway.domain.canonical import READING, Event, Priority
from gateway.domain.conditions import Condition
from gateway.domain.health import Problem
from gateway.kinds.base import Kind
from gateway.kinds.registry import KINDS, register
from gateway.runtime import start_gateway
from gateway.store.points import make_line
from tests.load import Publisher
from tests.servers import Mosquitto, free_port
from tests.waits import until

TOKEN = "new-kind-manager-token-0123456789"


class ClimateUnit:
    """The simulator: input registers 0 temperature (int16, 0.1 °C), 1 humidity (uint16, 0.1 %)."""

    def __init__(self, unit: int) -> None:
        self.unit = unit
        self.registers = [215, 455]

    def read(self, table: str, address: int, count: int) -> list[int] | ExcCodes:
        if table != "input" or address + count > len(self.registers):
            return ExcCodes.ILLEGAL_ADDRESS
        return self.registers[address : address + count]

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_ADDRESS


class Comfort:
    """A projection that derives a record per reading and says when the room is too warm."""

    name = "comfort"

    def __init__(self, cfg: Any, devices: Mapping[str, Any]) -> None:
        self.warm: dict[str, float] = {}

    def apply(self, event: Event, now_ns: int) -> list[tuple[Priority, str]] | None:
        if event.name != READING:
            return None
        t = event.fields["temperature_c"]
        if t > 25:
            self.warm[event.device] = t
        else:
            self.warm.pop(event.device, None)
        return [(Priority.TELEMETRY, make_line("comfort", {"device": event.device}, {"warm": t > 25}, event.ts_ns))]

    def conditions(self, now_ns: int) -> list[Condition]:
        return [Condition("too_warm", d, "info", f"{d}: {t} °C", d) for d, t in self.warm.items()]

    def state(self) -> None:
        return None

    def restore(self, state: dict[str, Any]) -> None:
        pass


class Poisoned:
    """A projection that fails on every event it is given."""

    name = "poisoned"

    def __init__(self, cfg: Any, devices: Mapping[str, Any]) -> None:
        self.calls = 0

    def apply(self, event: Event, now_ns: int) -> None:
        self.calls += 1
        raise RuntimeError(f"poisoned projection cannot take {event.name}")

    def state(self) -> None:
        return None

    def restore(self, state: dict[str, Any]) -> None:
        pass


def humid(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    h = info.get("humidity_pct")
    return [Problem("humid", f"humidity {h} %")] if isinstance(h, float) and h > 80 else []


# The kind's own route, found through `Kind.router` like the built-in kinds' (gateway/kinds/*/api.py).
ROUTER = APIRouter(tags=["climate"])


@ROUTER.get("/climate/warm", summary="Sensors over 25 °C")
async def warm(view: ViewDep, _: RoleDep) -> dict[str, float]:
    comfort = view.projection("comfort")
    return dict(comfort.warm) if comfort is not None else {}


CLIMATE = Kind(
    name="climate_sensor",
    description="temperature and humidity sensor",
    params=frozenset({"zone"}),
    signals={READING: frozenset({"temperature_c", "humidity_pct"})},
    info=frozenset({"temperature_c", "humidity_pct"}),
    rules=(humid,),
    projections=(Poisoned, Comfort),
    router="tests.test_new_kind:ROUTER",
)

PROFILE = """name: acme-climate
kind: climate_sensor
protocol: modbus
signals:
  temperature_c: {table: input, address: 0, type: int16, scale: 0.1}
  humidity_pct: {table: input, address: 1, type: uint16, scale: 0.1}
"""


@pytest.fixture
def climate_kind() -> Iterator[Kind]:
    register(CLIMATE)
    yield CLIMATE
    del KINDS[CLIMATE.name]


def test_a_new_kind_by_module_profile_and_simulator(
    climate_kind: Kind, mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "acme-climate.yaml").write_text(PROFILE)
    modbus_port = free_port()
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: kinds
zones: [{{id: wait, capacity: 40}}]
api: {{port: {free_port()}, tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: th-1, kind: climate_sensor, profile: acme-climate, zone: wait, poll_interval_s: 0.1,
      modbus: {{host: 127.0.0.1, port: {modbus_port}}}}}
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
""")
    asyncio.run(_run(load_config(path), modbus_port, mosquitto))


async def _run(cfg: Any, modbus_port: int, mosquitto: Mosquitto) -> None:
    unit = ClimateUnit(1)
    async with (
        ModbusBus("127.0.0.1", modbus_port, [unit]),
        start_gateway(cfg) as gw,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http,
    ):

        async def device(device_id: str, check: Any) -> dict[str, Any] | None:
            d = (await http.get(f"/api/v1/devices/{device_id}")).json()
            return d if check(d) else None

        d = await until(lambda: device("th-1", lambda d: d["health"] == "ok"), what="th-1 ok")
        assert (d["kind"], d["info"]["temperature_c"], d["info"]["humidity_pct"]) == ("climate_sensor", 21.5, 45.5)
        unit.registers[1] = 912  # the kind's own rule: too humid
        d = await until(lambda: device("th-1", lambda d: d["health"] == "degraded"), what="th-1 degraded")
        assert d["detail"] == "humidity 91.2 %"

        publisher = Publisher(mosquitto.host, mosquitto.port, "hall/kinds/rating/rp-w01/event", 300).start()
        try:
            await asyncio.to_thread(publisher.wait_acked, 300, 30)
        finally:
            publisher.close()
        # The poisoned projection failed on every event, yet health saw them all and the link
        # acknowledged every one without a reconnect.
        await until(lambda: device("rp-w01", lambda d: d["counters"].get("events", 0) >= 300), what="rp-w01 events")
        stats = gw.view.mqtt_stats()
        assert stats is not None and (stats.connects, stats.batches_failed) == (1, 0)
        errors = gw.view.projection_errors()
        assert errors["poisoned"] >= 300 and errors["health"] == 0
        metrics = (await http.get("/metrics")).text
        assert 'hallgate_projection_errors_total{projection="poisoned"}' in metrics
        assert gw.view.outbox_stats().depth_by_class["event"] >= 300  # no sink: all kept

        # The kind's own projection: its derived records are stored, its condition is an alert.
        unit.registers[0] = 262
        alert = await until(lambda: _alert(http, "too_warm"), what="the too_warm alert")
        assert (alert["device"], alert["summary"]) == ("th-1", "th-1: 26.2 °C")
        assert (await http.get("/api/v1/climate/warm")).json() == {"th-1": 26.2}
        assert "/api/v1/climate/warm" in (await http.get("/openapi.json")).json()["paths"]
        batch = gw.view.outbox.peek(100_000)
        assert any(line.startswith("comfort,device=th-1 warm=true") for line in batch.lines)


async def _alert(http: httpx.AsyncClient, rule: str) -> dict[str, Any] | None:
    return next((a for a in (await http.get("/api/v1/alerts")).json() if a["rule"] == rule), None)


def test_a_kinds_router_must_name_an_api_router() -> None:
    """Refused when registered if it is no 'module:attribute'; when the API is built if the
    attribute is not a router (a typo would otherwise leave the kind's routes out unseen)."""
    with pytest.raises(ValueError, match=r"router 'tests.test_new_kind.ROUTER' is not 'module:attribute'"):
        register(replace(CLIMATE, router="tests.test_new_kind.ROUTER"))
    assert CLIMATE.name not in KINDS
    register(replace(CLIMATE, router="tests.test_new_kind:CLIMATE"))
    try:
        with pytest.raises(TypeError, match=r"kind climate_sensor: tests.test_new_kind:CLIMATE is not a FastAPI"):
            kind_routers()
    finally:
        del KINDS[CLIMATE.name]
