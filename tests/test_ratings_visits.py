"""Ratings joined to the queue's visits, end to end: the simulator plays a small day at full speed on a
real Mosquitto, its rating pads prompted with each visit's case id; then visits and ratings made
by hand (a rating without a case id, a visit finished without one, an expired prompt, a rating of
no visit, and a rating that comes before its visit's `finished`). The ratings summary per line and
per item, and 评价率 = visits rated / visits served, equal the count worked out here from the events
a `mosquitto_sub` saw. A hall without a queue system says the denominator is missing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.sim_support import MqttWatcher
from tests.waits import until

SITE = "qr-hall"
TOKEN = "ratings-visits-manager-token-012345678"
DAY = "2026-12-07"
PERIOD = {"start": DAY, "end": "2026-12-08"}
PADS = {"rp-w01": ("W01", "east"), "rp-w02": ("W02", "east"), "rp-w03": ("W03", "west")}  # W04 has none
QUEUE_EVENT = f"hall/{SITE}/queue/q-1/event"


def at(clock: str) -> str:
    return f"{DAY}T{clock}.000+08:00"


def hall_file(tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, queue: bool) -> Path:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    pads = "\n".join(
        f"  - {{id: {d}, kind: rating_pad, profile: ref-rating-pad, window: {w}, zone: {z}}}"
        for d, (w, z) in PADS.items()
    )
    hall = tmp_path / "hall.yaml"
    hall.write_text(
        f"""
site: {SITE}
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
zones: [{{id: east, capacity: 100}}, {{id: west, capacity: 100}}]
devices:
{pads}
"""
        + ("  - {id: q-1, kind: queue, profile: ref-queue}\n" if queue else "")
    )
    return hall


def simulator(mosquitto: Mosquitto, queue: bool) -> HallSimulator:
    devices: list[dict[str, Any]] = [{"id": d, "kind": "rating_pad", "window": w} for d, (w, _) in PADS.items()]
    if queue:
        sim = {"windows": 4, "tickets": 80, "speed": "full", "date": DAY}
        devices.append({"id": "q-1", "kind": "queue", "sim": sim})
    return HallSimulator(
        {"site": SITE, "devices": devices}, mqtt=MqttSettings(port=mosquitto.port), rate_per_min=0, state_dir=None
    )


# -- the count worked out from the events -----------------------------------------------------------


def served_visits(events: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Ticket -> its served visit (line: the one it was issued in, or transferred to last; item;
    window and case id of its `finished`). The scenario issues no ticket twice."""
    visits: dict[str, dict[str, str]] = {}
    served: dict[str, dict[str, str]] = {}
    for e in events:
        v = visits.setdefault(e["ticket"], {"line": "", "item": ""})
        if e["type"] == "issued":
            assert not v["line"], f"{e['ticket']} issued twice"
            v.update(line=e["line"], item=e["item"])
        elif e["type"] == "transferred":
            v["line"] = e["to_line"]
        elif e["type"] == "finished":
            assert e["ticket"] not in served
            served[e["ticket"]] = {**v, "window": e["window"], "case": e["case_id"], "ticket": e["ticket"]}
    return served


def names(r: dict[str, Any], v: dict[str, str]) -> bool:
    """A pad's event names a visit: the same case id, or, where either has none, the same window and ticket."""
    if r.get("case_id") and r["case_id"] == v["case"]:
        return True
    return (not r.get("case_id") or not v["case"]) and (r["window"], r["ticket"]) == (v["window"], v["ticket"])


def expected(events: list[dict[str, Any]], pad_events: list[dict[str, Any]]) -> dict[str, Any]:
    served = served_visits(events)
    rated: set[str] = set()
    asked: set[str] = set()
    line_of: list[str] = []  # per pad event, the line of the visit it names ("" none)
    for r in pad_events:
        named = [t for t, v in served.items() if names(r, v)]
        assert len(named) <= 1, (r, named)  # the scenario is unambiguous
        line_of.append(served[named[0]]["line"] if named else "")
        if named:
            (rated if r["type"] == "rated" else asked).add(named[0])

    def rates(key: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for t, v in served.items():
            g = out.setdefault(v[key] if key else "", {"served": 0, "rated": 0, "unrated": 0})
            g["served"] += 1
            g["rated"] += t in rated
            g["unrated"] += t not in rated and t in asked
        for g in out.values():
            g["not_asked"] = g["served"] - g["rated"] - g["unrated"]
            g["rating_rate"] = round(g["rated"] / g["served"], 4)
        return out

    by_line: dict[str, Counter[str]] = {}
    for r, line in zip(pad_events, line_of, strict=True):
        by_line.setdefault(line, Counter())["rated" if r["type"] == "rated" else "unrated"] += 1
    return {
        "total": rates("")[""],
        "line": rates("line"),
        "item": rates("item"),
        "window": rates("window"),
        "without_visit": sum(
            1 for r, line in zip(pad_events, line_of, strict=True) if r["type"] == "rated" and not line
        ),
        "ratings_by_line": {k: (c["rated"], c["unrated"]) for k, c in by_line.items()},
    }


def bare(figures: dict[str, Any]) -> dict[str, Any]:
    """A total's figures without its (null) key."""
    return {k: v for k, v in figures.items() if k != "key"}


# -- the test ---------------------------------------------------------------------------------------


def test_the_rating_rate_counts_rated_visits_over_served_visits_whatever_the_order(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch, queue=True)
    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(_day(hall, mosquitto, watch))


def visit(q: QueueSystem, ticket: str, window: str, case: str, clock: str, *, item: str = "营业执照设立登记") -> None:
    """One visit by hand, issued to finished within the minute `clock` (HH:MM)."""
    q.emit(
        {
            "type": "issued",
            "ticket": ticket,
            "line": ticket[0],
            "item": item,
            "source": "walk_in",
            "ts": at(f"{clock}:00"),
        }
    )
    q.emit({"type": "called", "ticket": ticket, "window": window, "staff_id": "S0009", "ts": at(f"{clock}:05")})
    q.emit({"type": "started", "ticket": ticket, "window": window, "staff_id": "S0009", "ts": at(f"{clock}:10")})
    q.emit({
        "type": "finished", "ticket": ticket, "window": window, "staff_id": "S0009", "case_id": case, "result": "done",
        "ts": at(f"{clock}:40"),
    })  # fmt: skip


async def _day(hall: Path, mosquitto: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    sim = simulator(mosquitto, queue=True)
    q: QueueSystem = sim.device("q-1")
    w01, w02, w03 = (sim.device(d) for d in PADS)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})

    async def summary(**params: str) -> dict[str, Any]:
        r = await http.get("/api/v1/ratings/summary", params={**PERIOD, **params})
        assert r.status_code == 200, r.text
        return r.json()

    def seen() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        lines = watch.matching(lambda ln: ln.topic.startswith(f"hall/{SITE}/"))
        events = [ln.json for ln in lines if ln.topic == QUEUE_EVENT]
        pads = [ln.json for ln in lines if "/rating/" in ln.topic and ln.topic.endswith("/event")]
        return events, pads

    async def settled(want: dict[str, Any], ratings: int) -> dict[str, Any] | None:
        s = await summary()
        t = s["total"]
        ok = s["visits"]["total"]["served"] == want["total"]["served"] and t["rated"] + t["unrated"] == ratings
        return s if ok else None

    async with http, start_gateway(cfg), sim:
        await q.wait_day(timeout=120)
        for pad in (w01, w02, w03):
            await pad.wait_sent(timeout=60)
        await watch.wait(lambda ln: ln.topic == QUEUE_EVENT, count=len(q.plan.events), timeout=60)
        events, pads = seen()
        day = expected(events, pads)
        s = await until(lambda: settled(day, len(pads)), timeout=30, what="the simulated day kept")
        assert bare(s["visits"]["total"]) == day["total"] and s["visits"]["ratings_without_visit"] == 0

        # A rating that comes before its visit's `finished`: stored first, it names no visit yet.
        late = w02.rate(4, case_id="T-LATE", ticket="B901", item="社保卡补办", ts=at("17:00:55"))
        await w02.wait_sent()

        async def stored() -> bool:
            r = await http.get("/api/v1/ratings", params={**PERIOD, "window": "W02"})
            return any(x["case_id"] == "T-LATE" for x in r.json())

        await until(stored, what="the early rating stored")
        early = (await summary())["visits"]
        assert early["ratings_without_visit"] == 1 and bare(early["total"]) == day["total"]

        visit(q, "B901", "W02", "T-LATE", "17:00", item="社保卡补办")  # its visit, after it
        visit(q, "A901", "W01", "T-A901", "17:02")
        w01.rate(5, case_id="", ticket="A901", ts=at("17:02:50"))  # the pad got no case id: window and ticket
        visit(q, "A902", "W01", "", "17:04")  # the queue passed no case id
        w01.rate(2, case_id="", ticket="A902", reasons=["slow"], ts=at("17:04:50"))
        visit(q, "A903", "W03", "T-A903", "17:06", item="不动产登记")
        w03.expire_prompt(ticket="A903", ts=at("17:07:40"))  # asked, not rated
        visit(q, "A904", "W04", "T-A904", "17:08")  # a window without a pad: not asked
        w03.rate(3, case_id="T-NONE", ticket="A999", ts=at("17:10:00"))  # a rating of no visit
        for device in (q, w01, w03):
            await device.wait_sent()
        await watch.wait(lambda ln: ln.topic == QUEUE_EVENT, count=len(q.plan.events) + 20, timeout=60)
        events, pads = seen()
        assert len(events) == len(q.plan.events) + 20
        assert late in pads and len({p["case_id"] for p in pads if p.get("case_id")}) == sum(
            1 for p in pads if p.get("case_id")
        )  # no case rated twice: every pad event counts
        want = expected(events, pads)
        assert want["total"]["rated"] > 20 and want["total"]["unrated"] and want["total"]["not_asked"]
        assert want["without_visit"] == 1  # T-NONE: the late one names its visit now

        s = await until(lambda: settled(want, len(pads)), timeout=30, what="every visit and rating kept")
        assert s["visits_missing"] is None
        assert bare(s["visits"]["total"]) == want["total"]
        queue = (await http.get("/api/v1/queue/summary", params=PERIOD)).json()["total"]
        assert queue["served"] == want["total"]["served"]  # the denominator is the queue summary's `served`
        assert s["visits"]["ratings_without_visit"] == want["without_visit"]
        for by in ("line", "item", "window"):
            got = (await summary(by=by))["visits"]["groups"]
            assert {g.pop("key"): g for g in got} == want[by], by
        by_line = await summary(by="line")
        assert {g["key"]: (g["rated"], g["unrated"]) for g in by_line["groups"]} == want["ratings_by_line"]
        assert by_line["total"] == s["total"]  # the same ratings, grouped by their visit's line
        # One window: its own visits only.
        w2 = bare((await summary(window="W02"))["visits"]["total"])
        assert w2 == want["window"]["W02"]
        # At the edges of time, the day either side looked at stays inside what the database stores.
        for start, end in (("1678-01-01", "1678-01-02"), ("2261-12-31", "2261-12-31T23:59:59-14:00")):
            r = await http.get("/api/v1/ratings/summary", params={"start": start, "end": end})
            assert r.status_code == 200 and r.json()["visits"]["total"]["served"] == 0, r.text


def test_a_hall_without_a_queue_system_says_the_denominator_is_missing(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch, queue=False)
    asyncio.run(_no_queue(hall, mosquitto))


async def _no_queue(hall: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(hall)
    sim = simulator(mosquitto, queue=False)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, start_gateway(cfg), sim:
        sim.device("rp-w01").rate(5, ticket="A001")
        sim.device("rp-w01").expire_prompt(ticket="A002")

        async def rated() -> dict[str, Any] | None:
            s = (await http.get("/api/v1/ratings/summary")).json()
            return s if s["total"]["rated"] + s["total"]["unrated"] == 2 else None

        s = await until(rated, what="the ratings counted")
        assert s["total"]["rating_rate"] == 0.5  # per prompt, as before
        assert s["visits"] is None
        assert s["visits_missing"]["code"] == "no_visits" and "排队叫号" in s["visits_missing"]["message"]
        r = await http.get("/api/v1/ratings/summary", params={"by": "line"})
        assert r.status_code == 404 and r.json()["error"] == "no_visits"
