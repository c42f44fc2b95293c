"""The queue's long-wait alert end to end: tickets published on a real Mosquitto as the reference
queue system sends them, the gateway's `GET /api/v1/alerts` opens the alert of the line whose
ticket waits past its own threshold (not of the line under the hall's), and resolves it when the
ticket is called."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.sim_support import mosquitto_pub
from tests.waits import until

SITE = "q-alerts"
TOPIC = f"hall/{SITE}/queue/q-1/event"
TOKEN = "queue-alerts-tech-token-01234567890"


def noon_zone() -> str:
    """A time zone whose local time is between 12:00 and 13:00 now: the test runs in working hours
    and hours away from midnight (the day's visits) whenever it is run."""
    offset = 12 - datetime.now(UTC).hour  # -11..+12, each an Etc/GMT zone (its sign reversed)
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def hall_file(tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HALLGATE_TOKEN_TECH", TOKEN)
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
timezone: {noon_zone()}
working_hours: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "06:00", end: "20:00"}}
queue: {{long_wait_min: 30, lines: {{A: {{long_wait_min: 20}}}}}}
alerts: {{clear_after_s: 0.3}}
api:
  port: {free_port()}
  tokens: [{{role: technician, env: HALLGATE_TOKEN_TECH}}]
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: q-1, kind: queue, profile: ref-queue}}
""")
    return hall


def event(seq: int, type_: str, ticket: str, ago_min: float, **fields: Any) -> str:
    ts = datetime.now(UTC) - timedelta(minutes=ago_min)
    payload = {"seq": seq, "ts": ts.isoformat(timespec="milliseconds"), "type": type_, "ticket": ticket, **fields}
    return json.dumps(payload, ensure_ascii=False)


def test_a_line_waiting_past_its_threshold_opens_an_alert_that_resolves_when_the_ticket_is_called(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_scenario(load_config(hall_file(tmp_path, mosquitto, monkeypatch)), mosquitto.port))


async def _scenario(cfg: Any, port: int) -> None:
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, start_gateway(cfg):
        # both waited 25 minutes: past line A's own 20, under the hall's 30 that line B has
        issued = [
            event(1, "issued", "A001", 25, line="A", item="社保", source="walk_in"),
            event(2, "issued", "B001", 25, line="B", item="公积金", source="walk_in"),
        ]
        t0 = time.monotonic()

        async def waiting() -> bool:
            # sent until the gateway has them: it may not have subscribed yet, and a resend counts once
            for payload in issued:
                mosquitto_pub(port, TOPIC, payload)
            r = await http.get("/api/v1/queue")
            return [(x["line"], x["events_waiting"]) for x in r.json()] == [("A", 1), ("B", 1)]

        await until(waiting, timeout=30, what="both tickets waiting at the gateway")

        async def queue_alerts() -> list[dict[str, Any]]:
            r = await http.get("/api/v1/alerts")
            assert r.status_code == 200, r.text
            return [a for a in r.json() if a["rule"].startswith("queue_")]

        async def opened() -> list[dict[str, Any]]:
            return [a for a in await queue_alerts() if a["state"] == "open"]

        (alert,) = await until(opened, timeout=30, what="the long-wait alert open")
        # B's would have opened at the same evaluation: it did not
        assert (alert["rule"], alert["key"], alert["severity"]) == ("queue_long_wait", "line A", "warning")
        assert re.fullmatch(r"A 线最长等候 2[56] 分钟，超过 20 分钟：请加开窗口或引导分流", alert["summary"]), alert
        assert [a["key"] for a in await queue_alerts()] == ["line A"]

        mosquitto_pub(port, TOPIC, event(3, "called", "A001", 0, window="W01", staff_id="S0001"))

        async def resolved() -> dict[str, Any] | None:
            return next((a for a in await queue_alerts() if a["id"] == alert["id"] and a["state"] == "resolved"), None)

        await until(resolved, timeout=30, what="the alert resolved once A001 is called")
        # B001 has waited under its 30 minutes all along (25 when sent, and the test took less than 4 more)
        assert time.monotonic() - t0 < 4 * 60
        assert [(a["key"], a["state"]) for a in await queue_alerts()] == [("line A", "resolved")]
