"""Ratings, work orders, attendance and posts end to end: simulated pads and an attendance machine
on a real Mosquitto, the gateway and its API, a restart and replayed backlogs."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.waits import until

TOKENS = {
    "technician": "ratings-technician-token-0123456789",
    "duty_manager": "ratings-duty-manager-token-0123456789",
}
SITE = "hall-r"


def test_a_day_of_ratings_and_punches(mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for role, token in TOKENS.items():
        monkeypatch.setenv(f"HALLGATE_TOKEN_{role.upper()}", token)
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
api:
  port: {free_port()}
  tokens:
    - {{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}
    - {{role: duty_manager, env: HALLGATE_TOKEN_DUTY_MANAGER, name: 王值班}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
alerts: {{clear_after_s: 0.3}}
# every hour of every day is working time, so the posts' rules hold whenever the test runs
working_hours: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59:59"}}
zones: [{{id: windows, capacity: 100}}]
posts: [{{window: W01, a: S0001, b: S0002}}]
attendance: {{absence_limit_min: 0.05, lunch: null}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01, zone: windows}}
  - {{id: rp-w02, kind: rating_pad, profile: ref-rating-pad, window: W02, zone: windows}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
""")
    asyncio.run(_day(hall, mosquitto))


async def _day(hall: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(hall)
    sim = HallSimulator(
        hall, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port), heartbeat_s=0.5, rate_per_min=0, seed=3
    )
    base = f"http://127.0.0.1:{cfg.api.port}"
    w01, w02, att = sim.device("rp-w01"), sim.device("rp-w02"), sim.device("att-1")
    sent: dict[str, list[dict[str, Any]]] = {"rp-w01": [], "rp-w02": [], "att-1": []}

    def rate(pad: Any, score: int, **kw: Any) -> dict[str, Any]:
        e = pad.rate(score, **kw)
        sent[pad.device_id].append(e)
        return e

    async with sim, _clients(base) as (tech, duty):
        async with start_gateway(cfg):
            await until(lambda: _online(tech), what="every device online")

            # -- ratings ------------------------------------------------------------------------
            good = [rate(w01, s) for s in (5, 5, 4, 3)]
            bad = rate(w01, 1, reasons=["attitude", "slow"])
            no_case = rate(w01, 5, case_id="")
            for _ in range(2):
                sent["rp-w01"].append(w01.expire_prompt())
            # Another pad rates a case W01 already rated: a duplicate, never counted.
            sent["rp-w02"].append(w02.rate(2, case_id=good[0]["case_id"], reasons=["other"]))
            await until(lambda: _summary(tech, by="window"), what="ratings counted")
            w = await until(lambda: _group(tech, "W01", lambda g: g["rated"] + g["unrated"] == 8), what="W01 figures")
            assert w == {
                "key": "W01",
                "rated": 6,
                "unrated": 2,
                "rating_rate": 0.75,
                "good_rate": round(4 / 6, 4),
                "bad_rate": round(1 / 6, 4),
                "scores": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 3},
                "mean": round(23 / 6, 3),
                "bad_reasons": {"attitude": 1, "slow": 1},
                "no_case_id": 1,
            }
            s = await _summary(tech, by="window")
            assert [g["key"] for g in s["groups"]] == ["W01"] and s["duplicates"] == 1
            assert no_case["case_id"] == ""

            # The 差评: a work order at once, and an alert naming window, staff, item, score, reasons, case.
            alert = await until(lambda: _alert(tech, "bad_rating"), what="差评 alert")
            for part in ("W01", bad["staff_id"], bad["item"], "差评 1 分", "服务态度、办理慢", bad["case_id"]):
                assert part in alert["summary"], alert["summary"]
            assert alert["closes_by_hand"] and alert["severity"] == "critical"
            orders = (await tech.get("/api/v1/workorders")).json()
            assert [(o["case_id"], o["state"], o["overdue"]) for o in orders] == [(bad["case_id"], "open", False)]
            order = orders[0]

            # Three 差评 at W02 in one day: a window alert (and three orders).
            for score in (2, 1, 2):
                rate(w02, score)
            window_alert = await until(lambda: _alert(tech, "bad_ratings_window"), what="window alert")
            assert "窗口 W02 今日差评已 3 条" in window_alert["summary"], window_alert["summary"]
            assert len((await tech.get("/api/v1/workorders")).json()) == 4
            listed = (await tech.get("/api/v1/ratings", params={"window": "W02", "score": 1})).json()
            assert [(r["window"], r["score"]) for r in listed] == [("W02", 1)]

            # The work order's life: only in order, only by the duty manager or a manager, audited.
            oid = order["id"]
            r = await tech.post(f"/api/v1/workorders/{oid}/callback", json={"note": "x"})
            assert (r.status_code, r.json()["error"]) == (403, "forbidden")
            r = await duty.post(f"/api/v1/workorders/{oid}/rectify", json={"note": "retrained"})
            assert (r.status_code, r.json()["error"]) == (409, "bad_transition")
            r = await duty.post(f"/api/v1/workorders/{oid}/callback", json={"note": ""})
            assert r.status_code == 422
            # 回访满意度: one of two answers, said on the callback only
            r = await duty.post(f"/api/v1/workorders/{oid}/callback", json={"note": "x", "satisfaction": "ok"})
            assert r.status_code == 422 and "satisfaction" in r.text
            for action, note, state in (
                ("callback", "called the citizen back", "called_back"),
                ("rectify", "counter staff retrained", "rectified"),
                ("close", "checked", "closed"),
            ):
                said = {"satisfaction": "dissatisfied"} if action == "callback" else {}
                if action == "rectify":
                    r = await duty.post(
                        f"/api/v1/workorders/{oid}/rectify", json={"note": note, "satisfaction": "satisfied"}
                    )
                    assert (r.status_code, r.json()["error"]) == (409, "bad_transition")
                r = await duty.post(f"/api/v1/workorders/{oid}/{action}", json={"note": note, **said})
                assert r.status_code == 200 and r.json()["state"] == state, r.text
                assert r.json()["satisfaction"] == "dissatisfied", "said on the callback, kept"
            trail = r.json()["log"]
            assert [(e["action"], e["who"]) for e in trail] == [("open", "gateway")] + [
                (a, "王值班")
                for a in ("callback", "rectify", "close")  # the holder, not the role
            ]
            r = await duty.post(f"/api/v1/alerts/{alert['id']}/close", json={"note": "called back"})
            assert r.status_code == 200 and r.json()["state"] == "closed", r.text

            # -- attendance ----------------------------------------------------------------------
            # Nobody on W01 since the day began: 空岗.
            empty = await until(lambda: _alert(tech, "post_empty"), what="空岗 alert")
            assert empty["key"] == "window W01"
            # A punched in 20 s ago (one touch, two punches), out 10 s ago; unknown directions.
            att.set_clock_offset(-20)
            sent["att-1"].append(att.punch("S0001", direction="unknown"))
            sent["att-1"].append(att.punch("S0001", direction="unknown"))  # the same touch
            att.set_clock_offset(-10)
            sent["att-1"].append(att.punch("S0001", direction="unknown"))
            att.set_clock_offset(-400 * 86400)  # a clock reset after a power cut
            sent["att-1"].append(att.punch("S0002", direction="in"))
            att.set_clock_offset(0)
            daily = await until(lambda: _daily(duty, "S0001", 2), what="S0001's day")
            assert daily["missing"] == [] and daily["first_in"] < daily["last_out"]
            posts = (await tech.get("/api/v1/attendance/posts")).json()
            assert posts[0]["on_post"] is None and posts[0]["over_limit"]
            # B comes to cover: the post is staffed, the alert resolves.
            sent["att-1"].append(att.punch("S0002", direction="in"))
            covered = await until(lambda: _post(tech, lambda p: p["on_post"] == "S0002"), what="B covers")
            assert covered["covered_by_b"] and not covered["over_limit"]
            await until(lambda: _alert(tech, "post_empty", state="resolved"), what="空岗 resolved")
            r = await tech.get("/api/v1/attendance/daily")
            assert (r.status_code, r.json()["error"]) == (403, "forbidden")
            # The machine loses its network, keeps punching, and uploads its backlog when it is back.
            att.go_offline()
            await until(lambda: not att.connected.is_set(), what="machine offline")
            for staff, seconds_ago in (("S0003", 8), ("S0004", 5), ("S0003", 2)):
                att.set_clock_offset(-seconds_ago)
                sent["att-1"].append(att.punch(staff, direction="unknown"))
            att.set_clock_offset(0)
            att.come_back()
            s3 = await until(lambda: _daily(duty, "S0003", 2), what="the backlog uploaded")
            assert s3["missing"] == [] and s3["first_in"] < s3["last_out"]
            before = await _figures(tech, duty)
            open_bad = await _bad_alerts(tech)
            assert len(open_bad) == 3 and all(n == 1 for _, n in open_bad)  # W02's; W01's was closed

        # -- a restart, then every pad and the machine upload their backlog again, out of order ------
        async with start_gateway(cfg):
            await until(lambda: _online(tech), what="online after the restart")
            await _replay(mosquitto, sent)
            await until(lambda: _sets_aside(duty, 1), what="replay processed")
            assert await _figures(tech, duty) == before
            # The closed 差评 is not raised again, the open ones are not counted again.
            assert await _bad_alerts(tech) == open_bad
            assert len((await tech.get("/api/v1/workorders")).json()) == 4


async def _replay(mosquitto: Mosquitto, sent: dict[str, list[dict[str, Any]]]) -> None:
    """Publish every event again in a shuffled order, then a marker punch the replay must precede."""
    events = [(dev, e) for dev, es in sent.items() for e in es]
    random.Random(7).shuffle(events)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="replayer") as c:
        for dev, e in events * 2:
            kind, channel = ("attendance", "punch") if dev == "att-1" else ("rating", "event")
            await c.publish(f"hall/{SITE}/{kind}/{dev}/{channel}", json.dumps(e), qos=1)
        # The marker: a punch dated in 1999 (another set-aside one), published after the replay.
        marker = {"seq": 4_000_000_000, "ts": "1999-01-01T09:00:00.000+08:00", "staff_id": "S0009", "direction": "in"}
        await c.publish(f"hall/{SITE}/attendance/att-1/punch", json.dumps(marker), qos=1)


async def _figures(tech: httpx.AsyncClient, duty: httpx.AsyncClient) -> Any:
    day = (await duty.get("/api/v1/attendance/daily")).json()
    day.pop("set_aside")
    posts = (await tech.get("/api/v1/attendance/posts")).json()
    for p in posts:
        p.pop("absence_minutes_today")  # grows with the clock
    return (
        await _summary(tech, by="window"),
        await _summary(tech, by="item"),
        (await tech.get("/api/v1/ratings", params={"limit": 1000})).json(),
        [(o["id"], o["state"]) for o in (await tech.get("/api/v1/workorders")).json()],
        day,
        posts,
    )


async def _bad_alerts(http: httpx.AsyncClient) -> list[tuple[int, int]]:
    r = await http.get("/api/v1/alerts", params={"state": "active"})
    return sorted((a["id"], a["occurrences"]) for a in r.json() if a["rule"] == "bad_rating")


async def _sets_aside(duty: httpx.AsyncClient, n: int) -> bool:
    r = await duty.get("/api/v1/attendance/daily")
    return r.json()["set_aside"].get("past", 0) > n


async def _summary(http: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    r = await http.get("/api/v1/ratings/summary", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _group(http: httpx.AsyncClient, key: str, ok: Any) -> dict[str, Any] | None:
    s = await _summary(http, by="window")
    g = next((g for g in s["groups"] if g["key"] == key), None)
    return g if g is not None and ok(g) else None


async def _alert(http: httpx.AsyncClient, rule: str, state: str | None = None) -> dict[str, Any] | None:
    r = await http.get("/api/v1/alerts", params={"state": state} if state else {})
    assert r.status_code == 200, r.text
    return next((a for a in r.json() if a["rule"] == rule and (state or a["state"] in ("open", "acknowledged"))), None)


async def _daily(http: httpx.AsyncClient, staff: str, punches: int) -> dict[str, Any] | None:
    r = await http.get("/api/v1/attendance/daily")
    assert r.status_code == 200, r.text
    p = next((p for p in r.json()["people"] if p["staff_id"] == staff), None)
    return p if p is not None and p["punches"] == punches else None


async def _post(http: httpx.AsyncClient, ok: Any) -> dict[str, Any] | None:
    posts = (await http.get("/api/v1/attendance/posts")).json()
    return posts[0] if ok(posts[0]) else None


async def _online(http: httpx.AsyncClient) -> bool:
    r = await http.get("/api/v1/devices")
    return all(d["online"] for d in r.json())


class _clients:
    def __init__(self, base: str) -> None:
        self.clients = [
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKENS[role]}"})
            for role in ("technician", "duty_manager")
        ]

    async def __aenter__(self) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        return self.clients[0], self.clients[1]

    async def __aexit__(self, *exc: object) -> None:
        for c in self.clients:
            await c.aclose()
