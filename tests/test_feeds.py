"""The gateway's feeds beside its alerts (gateway/feeds.py), against a real Mosquitto and a running
gateway: each 差评 work order change on `hall/{site}/gateway/workorders` and each violation step on
`.../violations`, in order, then the retained open counts a late subscriber gets at once; codes,
never the person; an order gone overdue told once; and what changes while the broker is down is
published, in order, once it is back (the durable delivery queue), with the summary after it."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.config.load import load_config
from gateway.domain.workorders import WorkOrder
from gateway.kinds.rating_pad.feed import WorkOrderFeed, open_counts, tell_overdue
from gateway.kinds.rating_pad.store import RatingStore
from gateway.runtime import start_gateway
from gateway.store.journal import Journal
from gateway.store.staged import attach
from tests.servers import Mosquitto, free_port
from tests.test_broker_config import Client
from tests.test_commands import ALWAYS, TOKENS
from tests.test_commands_compliance import tokens  # noqa: F401  (the fixture: the tokens in the environment)
from tests.waits import until

SITE = "feeds"
WORKORDERS, VIOLATIONS = f"hall/{SITE}/gateway/workorders", f"hall/{SITE}/gateway/violations"
NAME, STAFF, CASE = "王小明", "S0001", "CASE-4711"  # what must never be on the feeds
NOTE = "窗口内看手机视频（王小明本人承认）"
NS, DAY = 10**9, 86_400 * 10**9


def _hall(tmp_path: Path, mosquitto: Mosquitto, devices: str = "") -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: {SITE}
timezone: Asia/Shanghai
working_hours: {ALWAYS}
api:
  port: {free_port()}
  tokens:
    - {{role: duty_manager, env: CMD_TOKEN_DUTY, name: zhao.duty}}
    - {{role: manager, env: CMD_TOKEN_MANAGER, name: li.manager}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}, protocol: 5}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: none}}
staff:
  - {{id: {STAFF}, name: {NAME}, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 医保科}}
devices: {devices or "[{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}]"}
""")
    return path


class Api:
    def __init__(self, port: int) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30)

    async def post(self, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post(path, json=body, headers={"Authorization": f"Bearer {TOKENS[who]}"})
        assert r.status_code in (200, 201), r.text
        return r.json()

    async def up(self) -> bool:
        try:
            r = await self.http.get("/violations", headers={"Authorization": f"Bearer {TOKENS['MANAGER']}"})
            return r.status_code == 200
        except httpx.TransportError:
            return False


def bodies(c: Client, topic: str, kind: str) -> list[dict[str, Any]]:
    return [b for t, p in list(c.got) if t == topic and (b := json.loads(p))["type"] == kind]


def events(c: Client, topic: str) -> list[tuple[int, str, str]]:
    """Each change once (QoS 1 is at least once: one resent after a reconnect may repeat)."""
    return list(dict.fromkeys((b["id"], b["event"], b["state"]) for b in bodies(c, topic, "change")))


def last_summary(c: Client, topic: str) -> dict[str, Any] | None:
    found = bodies(c, topic, "summary")
    return found[-1] if found else None


def counts(c: Client, topic: str, *keys: str) -> tuple[Any, ...] | None:
    s = last_summary(c, topic)
    return None if s is None else tuple(s[k] for k in keys)


def rated(seq: int) -> bytes:
    ts = datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(timespec="milliseconds")
    body = {"type": "rated", "seq": seq, "ts": ts, "case_id": CASE, "window": "W01", "staff_id": STAFF}
    return json.dumps(body | {"item": "社保转移", "score": 1, "reasons": ["attitude"]}).encode()


@pytest.mark.usefixtures("tokens")
def test_work_order_and_violation_changes_go_out_as_codes_then_the_retained_counts(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    asyncio.run(_changes(_hall(tmp_path, mosquitto), mosquitto))


async def _changes(path: Path, mosquitto: Mosquitto) -> None:
    sub = Client(mosquitto.port, "district", "feeds-sub")
    sub.subscribe(f"hall/{SITE}/gateway/#")
    async with start_gateway(load_config(path)):
        api = Api(load_config(path).api.port)
        await until(api.up, what="the API")
        await until(lambda: counts(sub, WORKORDERS, "open") == (0,), what="the work orders' summary on connect")
        await until(lambda: counts(sub, VIOLATIONS, "open", "confirmed") == (0, 0), what="the violations' summary")

        pad = Client(mosquitto.port, "rp-1", "rp-1")
        pad.publish(f"hall/{SITE}/rating/rp-1/event", rated(1))
        await until(lambda: len(events(sub, WORKORDERS)) == 1, what="the opened work order")
        (oid, event, state) = events(sub, WORKORDERS)[0]
        assert (event, state) == ("opened", "open")
        await until(lambda: counts(sub, WORKORDERS, "open", "overdue") == (1, 0), what="one open order")
        await api.post("MANAGER", f"/workorders/{oid}/callback", {"note": f"已回访 {NAME}"})
        await until(lambda: len(events(sub, WORKORDERS)) == 2, what="the call back")
        assert events(sub, WORKORDERS)[1] == (oid, "called_back", "called_back")

        await api.post("MANAGER", f"/workorders/{oid}/rectify", {"note": "已整改"})
        await api.post("MANAGER", f"/workorders/{oid}/close", {"note": "办结"})
        await until(lambda: counts(sub, WORKORDERS, "open") == (0,), what="none open once it closed")
        assert [e[1:] for e in events(sub, WORKORDERS)] == [
            ("opened", "open"),
            ("called_back", "called_back"),
            ("rectified", "rectified"),
            ("closed", "closed"),
        ]

        v = await api.post("DUTY", "/violations", {"staff_id": STAFF, "kind": "违规使用手机", "note": NOTE})
        await until(lambda: counts(sub, VIOLATIONS, "open", "confirmed") == (1, 0), what="one violation open")
        await api.post("MANAGER", f"/violations/{v['id']}/confirm", {"reason": f"{NAME} 确认"})
        await until(lambda: counts(sub, VIOLATIONS, "open", "confirmed") == (0, 1), what="it confirmed")
        assert events(sub, VIOLATIONS) == [(v["id"], "recorded", "detected"), (v["id"], "confirmed", "confirmed")]
        change = bodies(sub, VIOLATIONS, "change")[1]
        assert change["department"] == "社保科" and change["violation_kind"] == "phone" and change["window"] == "W01"
        order = bodies(sub, WORKORDERS, "change")[0]
        assert (order["department"], order["window"], order["score"], order["reasons"]) == (
            "社保科",
            "W01",
            1,
            ["attitude"],
        )

        # A subscriber joining now gets the current counts at once (retained).
        late = Client(mosquitto.port, "late", "feeds-late")
        late.subscribe(WORKORDERS, VIOLATIONS)
        await until(lambda: len(late.got) == 2, what="the retained summaries")  # they follow the SUBACK
        assert [json.loads(p)["type"] for _, p in late.got] == ["summary", "summary"]
        assert counts(late, WORKORDERS, "open") == (0,) and counts(late, VIOLATIONS, "open", "confirmed") == (0, 1)
        for c in (pad, late):
            c.close()
    said = b"".join(p for t, p in sub.got if t in (WORKORDERS, VIOLATIONS)).decode()
    for secret in (NAME, STAFF, CASE, NOTE, "zhao.duty", "li.manager"):
        assert secret not in said, secret
    sub.close()


@pytest.mark.usefixtures("tokens")
def test_what_changes_while_the_broker_is_down_goes_out_in_order_once_it_is_back(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    asyncio.run(_cut(_hall(tmp_path, mosquitto), mosquitto))


async def _cut(path: Path, mosquitto: Mosquitto) -> None:
    # A persistent session (clean_start false, expiry 1 h) on a broker that keeps it across its restart.
    sub = Client(mosquitto.port, "district", "feeds-sub")
    sub.subscribe(VIOLATIONS)
    async with start_gateway(load_config(path)) as gw:
        api = Api(load_config(path).api.port)
        await until(api.up, what="the API")
        await until(lambda: counts(sub, VIOLATIONS, "open") == (0,), what="the summary on connect")
        mosquitto.stop()
        ids = [
            (await api.post("DUTY", "/violations", {"staff_id": s, "kind": "其他", "note": "工牌未佩戴"}))["id"]
            for s in ("S0001", "S0002", "S0001")
        ]
        await api.post("MANAGER", f"/violations/{ids[1]}/confirm", {"reason": "属实"})
        journal = gw.view.journal
        assert journal.pending_count("mqtt:violations") == 4  # waiting in the state database
        mosquitto.start()
        want = [(i, "recorded", "detected") for i in ids] + [(ids[1], "confirmed", "confirmed")]
        await until(lambda: events(sub, VIOLATIONS) == want, timeout=60, what="the four changes, in order")
        await until(lambda: counts(sub, VIOLATIONS, "open", "confirmed") == (2, 1), what="the summary after them")
        await until(lambda: journal.pending_count("mqtt:violations") == 0, what="the queue emptied")
    sub.close()


def test_an_order_past_its_deadline_is_told_overdue_once_and_counted(tmp_path: Path) -> None:
    """At the tick (the store, its feed and the state database; the clock given): once, even at
    every tick after it, and across a new store on the same file (a restart)."""
    journal = Journal(tmp_path / "state.sqlite", stores=[RatingStore])
    opened = 1_800_000_000 * NS
    for restart in (False, True):
        store, close = attach(journal.path, RatingStore)
        store.told = WorkOrderFeed("Asia/Shanghai", lambda: {STAFF: "社保科"}).rows
        if not restart:
            o = WorkOrder(
                0, "case:1", CASE, "W01", STAFF, "社保转移", 1, ("attitude",), "rp-1", opened, opened, opened + DAY
            )
            assert store.open_order(o)
            store.flush()
        assert open_counts(store, opened + DAY - 1)["overdue"] == 0
        assert tell_overdue(store, opened + DAY - 1) == 0  # not yet
        assert [tell_overdue(store, opened + DAY + i) for i in range(3)] == ([0, 0, 0] if restart else [1, 0, 0])
        assert {k: open_counts(store, opened + DAY)[k] for k in ("open", "overdue")} == {"open": 1, "overdue": 1}
        close()
    rows = [json.loads(p) for _, p in journal.pending_deliveries("mqtt:workorders")]
    assert [(r["event"], r["state"], r["department"]) for r in rows] == [
        ("opened", "open", "社保科"),
        ("overdue", "open", "社保科"),
    ]
    assert STAFF not in json.dumps(rows) and CASE not in json.dumps(rows)
    journal.close()


@pytest.mark.usefixtures("tokens")
def test_a_hall_without_an_mqtt_link_queues_nothing_for_the_feeds(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """As the alerts' `mqtt` target: no row waits for a link the hall never opens."""

    async def run() -> None:
        cfg = load_config(_hall(tmp_path, mosquitto, devices="[]"))  # no MQTT device: no link
        async with start_gateway(cfg) as gw:
            api = Api(cfg.api.port)
            await until(api.up, what="the API")
            v = await api.post("DUTY", "/violations", {"staff_id": STAFF, "kind": "其他", "note": "工牌未佩戴"})
            await api.post("MANAGER", f"/violations/{v['id']}/confirm", {"reason": "属实"})
            assert gw.view.journal.pending_count("mqtt:violations") == 0

    asyncio.run(run())
