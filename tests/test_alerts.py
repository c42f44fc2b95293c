"""Alerts end to end: simulated devices on a real Mosquitto, the gateway, its API, the MQTT alerts
topic and a webhook receiver that is cut off and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.waits import until

TOKEN = "alerts-technician-token-0123456789"


class Receiver:
    """A webhook receiver on a fixed port that can be cut off (closed) and brought back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.posts: list[tuple[str, dict[str, Any]]] = []  # (delivery id, body)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                posts.append((self.headers["X-Hallgate-Delivery"], body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.stop()


def test_alerts_from_devices_to_api_mqtt_and_webhook(
    mosquitto: Mosquitto, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_TECHNICIAN", TOKEN)
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: alerts
api: {{port: {free_port()}, tokens: [{{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
alerts: {{clear_after_s: 1.0, webhook: {{url: "http://127.0.0.1:{receiver.port}/hook"}}}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12}}
""")
    asyncio.run(_alerts(hall, mosquitto, receiver))


async def _alerts(hall: Path, mosquitto: Mosquitto, receiver: Receiver) -> None:
    cfg = load_config(hall)
    sim = HallSimulator(
        hall, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port), heartbeat_s=0.5, rate_per_min=0, seed=5
    )
    base = f"http://127.0.0.1:{cfg.api.port}"
    async with sim:
        async with (
            start_gateway(cfg),
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):

            async def alerts(**params: str) -> list[dict[str, Any]]:
                r = await http.get("/api/v1/alerts", params=params)
                assert r.status_code == 200, r.text
                return r.json()

            async def one(rule: str, **params: str) -> dict[str, Any] | None:
                found = [a for a in await alerts(**params) if a["rule"] == rule]
                return found[0] if found else None

            await until(lambda: _all_online(http), what="every device online")

            # The network to the webhook is cut: changes wait in the state database.
            crashed = time.monotonic()
            sim.device("rp-w01").crash()
            offline = await until(lambda: one("device_offline", state="active"), what="offline alert")
            assert time.monotonic() - crashed < 1.0  # the will, then the alert, without waiting for a tick
            assert (offline["device"], offline["severity"]) == ("rp-w01", "critical")

            lockbox = sim.device("lb-1")
            lockbox.jam(3)
            with contextlib.suppress(Exception):
                lockbox.unlock(3)  # the firmware reports lock_fault
            jam = await until(lambda: one("jammed_lock", state="active"), what="jammed alert")
            assert jam["key"] == "lb-1/slot 3"
            lockbox.force_open(5)
            forced = await until(lambda: one("forced_open", state="active"), what="forced-open alert")
            assert (forced["key"], forced["closes_by_hand"]) == ("lb-1/slot 5", True)

            sim.device("rp-w01").come_back()
            await until(lambda: one("device_offline", state="resolved"), what="offline alert resolved")

            # A flapping link is one alert, not one per drop.
            before = {a["id"] for a in await alerts()}
            for _ in range(6):
                sim.device("rp-w01").drop_connection()
                await asyncio.sleep(0.15)

            async def calm() -> bool:
                return await _all_online(http) and not await one("device_offline", state="active")

            await until(calm, what="calm again")
            await asyncio.sleep(1.5)
            flaps = [a for a in await alerts() if a["id"] not in before and a["rule"] == "device_offline"]
            assert len(flaps) == 1, flaps

            r = await http.post(f"/api/v1/alerts/{jam['id']}/close", json={"note": "x"})
            assert (r.status_code, r.json()["error"]) == (409, "resolves_itself")
            r = await http.post(f"/api/v1/alerts/{forced['id']}/ack", json={"note": "guard informed"})
            assert r.status_code == 200 and (r.json()["state"], r.json()["acked_by"]) == (
                "acknowledged",
                "HALLGATE_TOKEN_TECHNICIAN",
            )
            r = await http.post(f"/api/v1/alerts/{forced['id']}/close", json={"note": "door checked"})
            assert r.status_code == 200 and r.json()["state"] == "closed"
            r = await http.post("/api/v1/alerts/99999/ack", json={"note": ""})
            assert (r.status_code, r.json()["error"]) == (404, "unknown_alert")

            # Four drops in ten minutes: the device itself is flagged as flapping.
            assert await one("flapping", state="active")
            await until(
                lambda: _retained_summary(mosquitto) == ["flapping", "jammed_lock"],
                what="the retained summary of the open alerts",
            )

        # A restart keeps the open alert (same id) and the delivery queue.
        async with (
            start_gateway(cfg),
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            active = (await http.get("/api/v1/alerts", params={"state": "active"})).json()
            assert sorted((a["id"], a["rule"]) for a in active)[0] == (jam["id"], "jammed_lock")
            assert [a["rule"] for a in active] == ["flapping", "jammed_lock"]
            assert receiver.posts == []
            receiver.start()  # the network is back: every change once
            changes = await until(lambda: _webhook_changes(receiver, 10), timeout=30, what="webhook deliveries")
            ids = [d for d, _ in receiver.posts]
            assert len(ids) == len(set(ids)), " ".join(ids)
            assert ("device_offline", "open") in changes and ("device_offline", "resolved") in changes
            assert ("forced_open", "acknowledged") in changes and ("forced_open", "closed") in changes
            assert ("jammed_lock", "open") in changes


async def _all_online(http: httpx.AsyncClient) -> bool:
    r = await http.get("/api/v1/devices")
    return all(d["online"] for d in r.json())


def _webhook_changes(receiver: Receiver, n: int) -> list[tuple[str, str]] | None:
    changes = [(body["alert"]["rule"], body["alert"]["state"]) for _, body in receiver.posts]
    return changes if len(changes) >= n else None


def _retained_summary(mosquitto: Mosquitto) -> list[str]:
    out = subprocess.run(
        ["mosquitto_sub", "-p", str(mosquitto.port), "-t", "hall/alerts/gateway/alerts", "-C", "1", "-W", "5"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    summary = json.loads(out)
    assert summary["type"] == "summary"
    return sorted(a["rule"] for a in summary["alerts"])
