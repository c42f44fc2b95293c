"""The queue kind end to end: the simulator plays a small day at full speed on a real Mosquitto,
the gateway keeps its visits, and its figures equal those worked out independently from the events
a `mosquitto_sub` saw (gateway/domain/queue.py's summarise over the visits built from them)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from drivers.profiles.mqtt_json import parse_iso8601_ns
from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.domain.queue import Visit, apply, event_id, reissued, summarise
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.sim_support import MqttWatcher, on, retained
from tests.waits import until

SITE = "q-hall"
BASE = f"hall/{SITE}/queue/q-1"
TZ = ZoneInfo("Asia/Shanghai")
TOKENS = {
    "viewer": "queue-viewer-token-0123456789abcdef",
    "duty_manager": "queue-duty-manager-token-0123456789",
}
DAY = "2026-12-07"
PERIOD = {"start": DAY, "end": "2026-12-08"}


def hour_of(ts_ns: int) -> str:
    return f"{datetime.fromtimestamp(ts_ns / 1e9, TZ).hour:02d}"


def visits_from(events: list[dict[str, Any]]) -> list[Visit]:
    """The visits, built from the events as published (a second issue of a ticket: another visit)."""
    done: list[Visit] = []
    now: dict[tuple[str, str], Visit] = {}
    for e in events:
        ts = parse_iso8601_ns(e["ts"])
        day = datetime.fromtimestamp(ts / 1e9, TZ).date().isoformat()
        eid = event_id("q-1", e["seq"], ts, e["type"])
        key = (day, e["ticket"])
        fields = {k: v for k, v in e.items() if k not in ("seq", "ts", "type")}
        if reissued(now.get(key), e["type"], eid):
            done.append(now.pop(key))
        now[key] = apply(now.get(key), e["type"], fields, ts, day, eid)
    return [*done, *now.values()]


def figures(groups: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, f in groups.items():
        d = f.out()
        out[key] = {k: d[k] for k in ("tickets", "issued", "served", "no_shows", "transfers", "waiting", "handling")}
    return out


def answered(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = ("tickets", "issued", "served", "no_shows", "transfers", "waiting", "handling")
    return {g["key"]: {k: g[k] for k in keys} for g in groups}


def test_a_small_day_summarised_by_the_gateway_equals_the_events_a_subscriber_saw(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role, token in TOKENS.items():
        monkeypatch.setenv(f"HALLGATE_TOKEN_{role.upper()}", token)
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens:
    - {{role: viewer, env: HALLGATE_TOKEN_VIEWER}}
    - {{role: duty_manager, env: HALLGATE_TOKEN_DUTY_MANAGER}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: q-1, kind: queue, profile: ref-queue}}
""")
    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(_day(hall, mosquitto, watch))


async def _day(hall: Path, mosquitto: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    base = f"http://127.0.0.1:{cfg.api.port}"
    sim = HallSimulator(
        {
            "site": SITE,
            "devices": [
                {"id": "q-1", "kind": "queue", "sim": {"windows": 4, "tickets": 120, "speed": "full", "date": DAY}}
            ],
        },
        mqtt=MqttSettings(port=mosquitto.port),
        rate_per_min=2.0,
        state_dir=None,
    )
    q: QueueSystem = sim.device("q-1")
    viewer = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKENS['viewer']}"})
    duty = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKENS['duty_manager']}"})
    async with viewer, duty, start_gateway(cfg):
        async with sim:
            await q.wait_day(timeout=120)
            await watch.wait(on(f"{BASE}/event"), count=len(q.plan.events), timeout=60)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        visits = visits_from(events)
        expect_total = figures(summarise(visits, "day", hour_of))[DAY]
        assert expect_total["tickets"] >= 120 and expect_total["served"] > 0  # a day worth comparing

        async def total() -> dict[str, Any] | None:
            r = await viewer.get("/api/v1/queue/summary", params=PERIOD)
            t = r.json()["total"]
            return t if t["tickets"] == expect_total["tickets"] else None

        got = await until(total, timeout=30, what="every visit kept")
        assert {k: got[k] for k in expect_total} == expect_total
        for by in ("line", "window", "hour", "item"):
            r = await viewer.get("/api/v1/queue/summary", params={**PERIOD, "by": by})
            assert r.status_code == 200, r.text
            assert answered(r.json()["groups"]) == figures(summarise(visits, by, hour_of)), by
        assert any(f["transfers"] for f in figures(summarise(visits, "line", hour_of)).values())

        # staff figures and the visits themselves are the managers'
        r = await viewer.get("/api/v1/queue/summary", params={**PERIOD, "by": "staff"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        r = await duty.get("/api/v1/queue/summary", params={**PERIOD, "by": "staff"})
        assert answered(r.json()["groups"]) == figures(summarise(visits, "staff", hour_of))
        assert (await viewer.get("/api/v1/queue/visits", params=PERIOD)).status_code == 403
        r = await duty.get("/api/v1/queue/visits", params=PERIOD)
        assert sorted(v["ticket"] for v in r.json()) == sorted(v.ticket for v in visits)
        r = await duty.get("/api/v1/queue/visits", params={**PERIOD, "line": "A"})
        assert {v["ticket"] for v in r.json()} == {
            v.ticket for v in visits if any(t.line == "A" for t in v.transactions)
        }

        # the lines now: the retained snapshot's, which at the day's end agrees with the events (none waiting)
        last = json.loads(retained(mosquitto.port, f"{BASE}/snapshot"))
        lines = (await viewer.get("/api/v1/queue")).json()
        assert [(x["line"], x["name"], x["waiting"], x["open_windows"]) for x in lines] == [
            (x["line"], x["name"], x["waiting"], x["open_windows"]) for x in last["lines"]
        ]
        r = await viewer.get("/api/v1/queue/summary", params={**PERIOD, "by": "nobody"})
        assert r.status_code == 422
