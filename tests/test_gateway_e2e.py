"""Simulated devices of every kind -> real Mosquitto and Modbus servers -> the gateway -> its API and InfluxDB."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.paths import DEMO_CONFIG
from gateway.runtime import start_gateway
from tests.demo_support import KINDS, ROLES, running_demo
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.waits import until

TOKEN = "e2e-manager-token"


def hall_yaml(tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB) -> Path:
    ports = [free_port() for _ in range(3)]
    text = f"""
site: e2e
zones: [{{id: consult, capacity: 50}}, {{id: windows, capacity: 100}}]
api: {{port: {free_port()}, tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}, protocol: 5}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influx.url}", database: hallgate}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-w02, kind: rating_pad, profile: ref-rating-pad, window: W02}}
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
  - {{id: locker-1, kind: pickup_locker, profile: ref-pickup-locker, poll_interval_s: 0.2,
      modbus: {{host: 127.0.0.1, port: {ports[0]}, unit: 1}}}}
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: 0.2,
      modbus: {{host: 127.0.0.1, port: {ports[1]}, unit: 1}}}}
  - {{id: pc-inner, kind: people_counter, profile: ref-people-counter, zone: windows, from_zone: consult,
      poll_interval_s: 0.2, modbus: {{host: 127.0.0.1, port: {ports[2]}, unit: 1, framer: rtu}}}}
"""
    path = tmp_path / "hall.yaml"
    path.write_text(text)
    return path


def test_hall_end_to_end(
    mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    asyncio.run(_hall_end_to_end(mosquitto, influxdb, tmp_path))


async def _hall_end_to_end(mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path) -> None:
    path = hall_yaml(tmp_path, mosquitto, influxdb)
    cfg = load_config(path)
    sim = HallSimulator(
        path,
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port, protocol="5"),
        heartbeat_s=0.5,
        rate_per_min=120,
        seed=7,
    )
    async with sim, start_gateway(cfg):
        base = f"http://127.0.0.1:{cfg.api.port}"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http:

            async def devices() -> dict[str, dict[str, Any]]:
                r = await http.get("/api/v1/devices")
                assert r.status_code == 200
                return {d["id"]: d for d in r.json()}

            async def all_online() -> dict[str, dict[str, Any]] | None:
                ds = await devices()
                return ds if all(d["online"] for d in ds.values()) else None

            ds = await until(all_online, what="every device online")
            assert {d["kind"] for d in ds.values()} == {
                "rating_pad",
                "lockbox",
                "attendance",
                "pickup_locker",
                "people_counter",
            }
            assert {d["protocol"] for d in ds.values()} == {"mqtt", "modbus"}

            # Garbage on a device's topic is counted against it and harms nothing.
            topic = "hall/e2e/rating/rp-w02/event"
            for payload in ("not json", '{"type":"rated"}', '{"seq":1,"ts":"yesterday","type":"rated","window":"W"}'):
                subprocess.run(
                    ["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", topic, "-m", payload], check=True
                )

            async def bad_counted() -> dict[str, Any] | None:
                d = (await http.get("/api/v1/devices/rp-w02")).json()
                return d if d["counters"].get("bad_payloads", 0) >= 3 else None

            detail = await until(bad_counted, what="bad payloads counted")
            assert detail["online"] and detail["last_error"].startswith("bad payload")

            # A crashed device: the broker publishes its will and the gateway shows it offline.
            sim.device("rp-w01").crash()

            async def rp1_offline() -> dict[str, Any] | None:
                d = (await devices())["rp-w01"]
                return d if not d["online"] else None

            d = await until(rp1_offline, what="rp-w01 offline after its crash")
            assert (d["health"], d["detail"]) == ("offline", "设备报告离线")  # the catalogue's words
            assert (await devices())["rp-w02"]["online"]

            # A dead Modbus device goes offline and does not stall the counters.
            await sim.buses[0].stop()  # the locker bank's line

            async def locker_offline() -> dict[str, Any] | None:
                d = (await http.get("/api/v1/devices/locker-1")).json()
                return d if d["health"] == "offline" else None

            d = await until(locker_offline, what="locker offline after its server stopped")
            assert d["detail"].startswith("连续 3 次轮询无应答"), d["detail"]
            # pc-door polls every 0.2 s on a line of its own: 5 more readings take about 1 s. A
            # poller stalled behind the dead locker's 1 s timeouts would need 5 s or more.
            before = (await http.get("/api/v1/devices/pc-door")).json()["counters"]["events"]
            started = time.monotonic()
            await until(lambda: _events_above(http, "pc-door", before + 5), what="the counter still polled")
            assert time.monotonic() - started < 3.0
            door = (await http.get("/api/v1/devices/pc-door")).json()
            assert (door["health"], door["counters"].get("poll_errors", 0)) == ("ok", 0), door

            zones = (await http.get("/api/v1/occupancy")).json()
            assert [z["zone"] for z in zones] == ["consult", "windows"]
            assert all(z["updated_at"] is not None for z in zones)

            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.json()
            metrics = (await http.get("/metrics")).text
            assert 'hallgate_device_online{device="rp-w02",kind="rating_pad"} 1.0' in metrics

            # Errors are JSON with a code.
            r = await http.get("/api/v1/devices/toaster-9")
            assert (r.status_code, r.json()["error"]) == (404, "unknown_device")
            r = await http.get("/api/v1/devices", headers={"Authorization": "Bearer wrong"})
            assert (r.status_code, r.json()["error"]) == (401, "bad_token")

        # What the devices said reached InfluxDB.
        async def in_influx() -> int:
            return influxdb.count("hallgate", "rating_pad_event") + 0

        await until(in_influx, what="rating events in InfluxDB")
        assert influxdb.count("hallgate", "people_counter") > 0
        assert influxdb.count("hallgate", "device_status") > 0


async def _events_above(http: httpx.AsyncClient, device: str, n: int) -> int | None:
    events = (await http.get(f"/api/v1/devices/{device}")).json()["counters"]["events"]
    return events if events > n else None


def _hallgate() -> str:
    return str(Path(sys.executable).parent / "hallgate")  # the installed console script


def test_demo_command_starts_and_stops_cleanly(tmp_path: Path) -> None:
    """`hallgate demo` as a user runs it: devices of every kind online, tokens printed, Ctrl-C stops it."""
    with running_demo(_hallgate(), tmp_path) as demo:
        assert set(demo.tokens) == ROLES
        ds = demo.wait_all_kinds_online()
        assert {d["kind"] for d in ds if d["online"]} == KINDS and len(ds) == 31
        zones = httpx.get(f"{demo.base}/api/v1/occupancy", headers=demo.headers).json()
        assert len(zones) >= 2
        assert httpx.get(f"{demo.base}/docs").status_code == 200
        assert "hallgate" in httpx.get(f"{demo.base}/").text
        # Each locker board's kiosk token: it reaches the pickup route of its own locker only.
        kiosks = dict(line.split()[2:4] for line in demo.banner if line.startswith("kiosk token: "))
        assert set(kiosks) == {"locker-a1", "locker-a2"}
        kiosk = {"Authorization": f"Bearer {kiosks['locker-a1']}"}
        r = httpx.post(f"{demo.base}/api/v1/lockers/locker-a1/pickup", headers=kiosk, json={"code": "000000"})
        assert r.status_code == 403 and r.json()["error"] == "wrong_code", r.text
        r = httpx.post(f"{demo.base}/api/v1/lockers/locker-a2/pickup", headers=kiosk, json={"code": "000000"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
        r = httpx.get(f"{demo.base}/api/v1/lockboxes/compliance", headers=demo.headers)
        assert r.status_code == 200, r.text
        rc, rest = demo.stop()
    assert rc == 0, rest
    assert "Traceback" not in rest


def test_two_demos_run_side_by_side_while_the_configured_modbus_ports_are_taken(tmp_path: Path) -> None:
    """The demo's Modbus simulators do not need the ports configs/demo-hall.yaml names."""
    hall = yaml.safe_load(DEMO_CONFIG.read_text())
    configured = sorted({d["modbus"]["port"] for d in hall["devices"] if "modbus" in d})
    with contextlib.ExitStack() as stack:
        for port in configured:
            sock = stack.enter_context(socket.socket())
            with contextlib.suppress(OSError):  # already taken by someone else: just as good
                sock.bind(("127.0.0.1", port))
                sock.listen()
        first = stack.enter_context(running_demo(_hallgate(), tmp_path))
        second = stack.enter_context(running_demo(_hallgate(), tmp_path))
        ports = []
        for demo in (first, second):
            ds = demo.wait_all_kinds_online()
            assert {d["kind"] for d in ds if d["online"]} == KINDS, ds
            [line] = [ln for ln in demo.banner if ln.strip().startswith("Modbus:")]
            ports.append(set(re.findall(r":(\d+)", line)))
        assert len(ports[0]) == len(configured) and not ports[0] & ports[1]
        assert not ports[0] & {str(p) for p in configured}
        for demo in (first, second):
            rc, rest = demo.stop()
            assert rc == 0, rest
