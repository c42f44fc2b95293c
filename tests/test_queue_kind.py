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
    """The visits, built from the events as published (a second issue of a ticket: another visit;
    the same event again, by seq, time and type: once)."""
    done: list[Visit] = []
    now: dict[tuple[str, str], Visit] = {}
    seen: set[str] = set()
    for e in events:
        ts = parse_iso8601_ns(e["ts"])
        day = datetime.fromtimestamp(ts / 1e9, TZ).date().isoformat()
        eid = event_id("q-1", e["seq"], ts, e["type"])
        if eid in seen:  # a replayed range: the same event again
            continue
        seen.add(eid)
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


def hall_file(tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> Path:
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
    return hall


def simulator(mosquitto: Mosquitto, tickets: int, speed: Any) -> HallSimulator:
    sim = {"windows": 4, "tickets": tickets, "speed": speed, "date": DAY}
    return HallSimulator(
        {"site": SITE, "devices": [{"id": "q-1", "kind": "queue", "sim": sim}]},
        mqtt=MqttSettings(port=mosquitto.port),
        rate_per_min=2.0,
        state_dir=None,
    )


def test_a_small_day_summarised_by_the_gateway_equals_the_events_a_subscriber_saw(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch)
    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(_day(hall, mosquitto, watch))


async def _day(hall: Path, mosquitto: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    base = f"http://127.0.0.1:{cfg.api.port}"
    sim = simulator(mosquitto, 120, "full")
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


def test_a_replayed_range_counts_once_and_a_duplicated_day_makes_second_visits(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch)
    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(_faults(hall, mosquitto, watch))


async def _faults(hall: Path, mosquitto: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    sim = simulator(mosquitto, 200, 0.001)  # a day that does not move: the backlog fault plays it
    q: QueueSystem = sim.device("q-1")
    duty = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKENS['duty_manager']}"}
    )
    async with duty, start_gateway(cfg), sim:
        await sim.wait_online()
        sim.inject("backlog:device=q-1,events=100")
        await q.wait_sent()
        sim.inject("offline:device=q-1")
        await watch.wait(on(f"{BASE}/status", state="offline"))
        sim.inject("backlog:device=q-1,events=10,repeat=40")  # 40 sent again
        sim.inject("clear:device=q-1")
        await watch.wait(on(f"{BASE}/event"), count=150)
        await q.wait_sent()
        assert sim.inject({"fault": "duplicated_day", "device": "q-1"}) == ["q-1"]
        await watch.wait(on(f"{BASE}/status", state="online"), count=3)
        sim.inject("backlog:device=q-1,events=100")
        await q.wait_sent()
        await watch.wait(on(f"{BASE}/event"), count=250)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        visits = visits_from(events)
        assert len({(e["seq"], e["ts"]) for e in events}) == 210 < len(events)  # the replayed range is there
        assert len(visits) > len({v.ticket for v in visits})  # and tickets issued twice

        async def kept() -> list[dict[str, Any]] | None:
            r = await duty.get("/api/v1/queue/visits", params=PERIOD)
            return r.json() if len(r.json()) == len(visits) else None

        got = await until(kept, timeout=30, what="every visit kept")
        assert sorted((v["ticket"], v["generation"]) for v in got) == sorted(
            (v.ticket, g) for v, g in generations(visits)
        )
        calls = {(v["ticket"], v["generation"]): sum(t["calls"] for t in v["transactions"]) for v in got}
        assert calls == {(v.ticket, g): sum(t.calls for t in v.transactions) for v, g in generations(visits)}
        r = await duty.get("/api/v1/queue/summary", params={**PERIOD, "by": "line"})
        assert answered(r.json()["groups"]) == figures(summarise(visits, "line", hour_of))


def generations(visits: list[Visit]) -> list[tuple[Visit, int]]:
    """Each visit with its generation: the how-manyth visit of its day and ticket, by issue time."""
    ordered = sorted(visits, key=lambda v: (v.day, v.ticket, v.transactions[0].queued_ns or 0))
    out, count = [], {}
    for v in ordered:
        n = count.get((v.day, v.ticket), 0)
        count[(v.day, v.ticket)] = n + 1
        out.append((v, n))
    return out
