"""Every panel of the Grafana dashboards in dashboards/grafana/ runs its InfluxQL against a real
InfluxDB 1.x filled by a small simulated hall through the gateway, and answers the columns the
panel shows."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.domain.occupancy import HALL, Bucket
from gateway.kinds.people_counter import bucket_line
from gateway.paths import DASHBOARD_DIR
from gateway.runtime import start_gateway
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.waits import until

GRAFANA = DASHBOARD_DIR.parent / "grafana"
DB = "hallgate"
# What the simulated hall must have written before the panels are queried. The occupancy
# projection writes a zone's minute as that minute goes on; the test writes the last half hour's
# minutes with the projection's own line function instead of waiting for the clock.
MEASUREMENTS = ("device_status", "heartbeat", "rating_pad_event", "people_counter")
# Dashboards whose queries a test of their own runs, with the numbers they must answer.
OWN_TEST = {"hallgate-queue": "tests/test_grafana_queue.py", "hallgate-district": "tests/test_grafana_district.py"}
DISTRICT = {"hallgate-district"}  # PromQL on the district store (datasource hallgate-district), not InfluxQL


def hall_yaml(tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB) -> Path:
    ports = [free_port() for _ in range(2)]
    text = f"""
site: grafana
zones: [{{id: consult, capacity: 50}}, {{id: windows, capacity: 100}}]
api: {{port: {free_port()}, tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}, protocol: 5}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influx.url}", database: {DB}}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-w02, kind: rating_pad, profile: ref-rating-pad, window: W02}}
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12}}
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: 0.2,
      modbus: {{host: 127.0.0.1, port: {ports[0]}, unit: 1}}}}
  - {{id: pc-inner, kind: people_counter, profile: ref-people-counter, zone: windows, from_zone: consult,
      poll_interval_s: 0.2, modbus: {{host: 127.0.0.1, port: {ports[1]}, unit: 1}}}}
"""
    path = tmp_path / "hall.yaml"
    path.write_text(text)
    return path


def write_occupancy(influx: InfluxDB, site: str, now_ns: int) -> None:
    minute = 60 * 10**9
    start = now_ns - now_ns % minute - 30 * minute
    lines = []
    for i in range(31):
        for zone, entered, left in ((HALL, 3, 2), ("consult", 3, 1), ("windows", 1, 1)):
            b = Bucket(zone, start + i * minute, entered + i % 3, left, occupancy=i + entered, clamped=int(i % 7 == 0))
            lines.append(bucket_line(site, b))
    body = "\n".join(lines).encode()
    with urllib.request.urlopen(f"{influx.url}/write?db={DB}", data=body, timeout=10) as r:
        assert r.status == 204


async def fill(mosquitto: Mosquitto, influx: InfluxDB, tmp_path: Path) -> None:
    """Run the hall until every measurement the dashboards read is in InfluxDB."""
    path = hall_yaml(tmp_path, mosquitto, influx)
    sim = HallSimulator(
        path,
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port, protocol="5"),
        heartbeat_s=0.5,
        rate_per_min=600,
        seed=11,
    )
    async with sim, start_gateway(load_config(path)):
        for m in MEASUREMENTS:
            await until(lambda m=m: influx.count(DB, m) > 0, timeout=20, what=f"{m} in InfluxDB")
        # The bad-rating panels need one 差评 (the simulated citizens give some).
        bad = 'SELECT count("score") FROM "rating_pad_event" WHERE "score" <= 2'
        await until(lambda: influx.query(bad, db=DB)["results"][0].get("series"), timeout=20, what="a bad rating")
    write_occupancy(influx, "grafana", time.time_ns())


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(GRAFANA.glob("*.json"))]


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in board["panels"]:
        out += panels(p) if p.get("type") == "row" and "panels" in p else [p]
    return [p for p in out if p.get("type") != "row"]


def concrete(query: str) -> str:
    """The query as Grafana sends it: its macros and template variables filled in."""
    q = query.replace("$timeFilter", "time > now() - 1h")
    q = q.replace("$__interval", "1m").replace("$interval", "1m")
    q = re.sub(r"\$\{?site\}?", "grafana", q)
    q = re.sub(r"/\^\$\{?(zone|device|window|kind)(:regex)?\}?\$/", "/.*/", q)
    return re.sub(r"\$\{?(zone|device|window|kind)\}?", "consult", q)


def test_the_dashboards_are_provisioned_from_the_files() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "hallgate.yaml").read_text())
    source = provisioning["datasources"][0]
    assert (source["type"], source["uid"], source["jsonData"]["dbName"]) == ("influxdb", "hallgate-influx", DB)
    assert yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "hallgate.yaml").read_text())["providers"]
    titles = {b["title"] for b in dashboards()}
    assert {
        "大厅总览 Hall overview",
        "客流 Crowd flow",
        "设备健康 Device health",
        "评价 Ratings",
        "排队叫号 Queue",
    } <= titles
    for board in dashboards():
        uid = "hallgate-district" if board["uid"] in DISTRICT else "hallgate-influx"
        for p in panels(board):
            assert p["datasource"]["uid"] == uid, (board["title"], p["title"])


@pytest.mark.timeout(120)
def test_every_panel_query_answers_its_columns(
    mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", "grafana-test-manager-token")
    influxdb.create_database(DB)
    asyncio.run(fill(mosquitto, influxdb, tmp_path))
    checked = 0
    for board in dashboards():
        if board["uid"] in OWN_TEST:
            continue
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                res = influxdb.query(concrete(var["query"]), db=DB)["results"][0]
                assert "error" not in res and res.get("series"), (board["title"], var["name"], res)
        for p in panels(board):
            for target in p["targets"]:
                res = influxdb.query(concrete(target["query"]), db=DB)["results"][0]
                where = f"{board['title']} / {p['title']}: {target['query']}"
                assert "error" not in res, f"{where}: {res['error']}"
                assert res.get("series"), f"{where}: no data"
                columns = set(res["series"][0]["columns"])
                expected = set(target["hallgateColumns"])  # what the panel shows, checked here
                assert expected <= columns, f"{where}: has {sorted(columns)}"
                checked += 1
    assert checked >= 12
