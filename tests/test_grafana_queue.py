"""The queue dashboard (dashboards/grafana/queue.json) against a real InfluxDB filled by a real
gateway: the simulator plays a small day at full speed on a real Mosquitto, and every panel's
query, with Grafana's macros and variables filled in as Grafana sends them, answers the numbers
worked out here from what a `mosquitto_sub` saw (the snapshots, and the visits built from the
events): waiting per line per interval, the waiting time's p90 per hour, open windows, and the
tables per line and per window. InfluxQL's percentile is nearest-rank, so that is what is
expected of it."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.profiles.mqtt_json import parse_iso8601_ns
from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.paths import DASHBOARD_DIR
from gateway.runtime import start_gateway
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.sim_support import MqttWatcher, on, retained
from tests.test_queue_kind import visits_from
from tests.waits import until

BOARD = DASHBOARD_DIR.parent / "grafana" / "queue.json"
DB = "hallgate"
SITE = "q-grafana"
BASE = f"hall/{SITE}/queue/q-1"
DAY = "2026-12-07"
TZ = ZoneInfo("Asia/Shanghai")
S = 10**9
INTERVAL_S = 600  # $__interval: ten snapshots a bucket, so the panels' aggregates are tried
Bucketed = dict[tuple[str, int], list[float]]  # (tag, bucket start in ns) -> values


def hall_file(tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB) -> Path:
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
timezone: Asia/Shanghai
api: {{port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influx.url}", database: {DB}}}
devices:
  - {{id: q-1, kind: queue, profile: ref-queue}}
""")
    return hall


def influx_percentile(values: list[float], q: float) -> float:
    """InfluxQL's PERCENTILE: of n sorted values, the one at rank round(n * q / 100) (nearest rank)."""
    ordered = sorted(values)
    return ordered[math.floor(len(ordered) * q / 100 + 0.5) - 1]


Point = tuple[str, str, int, float]  # (line, the tag the panel groups by, time, value)


class Expected:
    """What the day published, as the points the panels read: the snapshots' lines, and the
    waiting and handling times of the visits built from the events."""

    def __init__(self, snapshots: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        seen: dict[int, dict[str, Any]] = {}
        for s in snapshots:  # the same snapshot again (retained, repeated at the day's end) is one
            seen.setdefault(parse_iso8601_ns(s["ts"]), s)
        lines = sorted(((ts, x) for ts, s in seen.items() for x in s["lines"]), key=lambda p: p[0])
        self.waiting: list[Point] = [(x["line"], x["line"], ts, x["waiting"]) for ts, x in lines]
        self.windows: list[Point] = [(x["line"], x["line"], ts, len(x["open_windows"])) for ts, x in lines]
        txs = [tx for v in visits_from(events) for tx in v.transactions]
        self.waits: list[Point] = [
            (t.line, t.line, t.queued_ns, t.waiting_ns / S) for t in txs if t.waiting_ns is not None
        ]
        self.handled: list[Point] = [
            (t.line, t.window, t.started_ns, t.handling_ns / S) for t in txs if t.handling_ns is not None
        ]


def grouped(points: list[Point], lines: set[str], bucket_ns: int | None, start_ns: int) -> Bucketed:
    """Values by (tag, bucket start), oldest first; `bucket_ns` None: one bucket, the range's start
    (the time InfluxDB answers for a query grouped by a tag alone)."""
    out: Bucketed = defaultdict(list)
    for line, tag, at, value in sorted(points, key=lambda p: p[2]):
        if line in lines:
            out[tag, start_ns if bucket_ns is None else at - at % bucket_ns].append(value)
    return out


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def p90(values: list[float]) -> float:
    return influx_percentile(values, 90)


def last(values: list[float]) -> float:
    return values[-1]


def expected_rows(panel_id: int, exp: Expected, lines: set[str], start_ns: int) -> dict[tuple[str, int], list[float]]:
    """Each panel's rows by (tag, bucket): what its query must answer."""
    hour, interval = 3600 * S, INTERVAL_S * S
    points, bucket, aggregates = {
        1: (exp.waiting, interval, (mean,)),
        2: (exp.waits, hour, (p90,)),
        3: (exp.windows, interval, (last,)),
        4: (exp.waits, None, (len, mean, p90)),
        5: (exp.handled, None, (len, mean, p90)),
    }[panel_id]
    return {key: [f(v) for f in aggregates] for key, v in grouped(points, lines, bucket, start_ns).items()}


def concrete(query: str, start_ns: int, end_ns: int, line: str) -> str:
    """The query as Grafana sends it: `$timeFilter` as epoch milliseconds, `$__interval`, the site,
    and `$line` in a regex as Grafana writes a selection (`(A|B)` for All)."""
    q = query.replace("$timeFilter", f"time >= {start_ns // 10**6}ms and time <= {end_ns // 10**6}ms")
    q = q.replace("$__interval", f"{INTERVAL_S // 60}m")
    q = re.sub(r"\$\{?site\}?", SITE, q)
    return re.sub(r"\$\{?line\}?", line, q)


def answered(res: dict[str, Any], tag: str) -> dict[tuple[str, int], list[float]]:
    """The query's rows by (tag value, bucket start): GROUP BY without time answers time 0."""
    out = {}
    for series in res.get("series", []):
        for time_text, *values in series["values"]:
            at = datetime.fromisoformat(time_text.replace("Z", "+00:00"))
            out[series["tags"][tag], int(at.timestamp()) * S] = values
    return out


def same(got: dict[tuple[str, int], list[float]], want: dict[tuple[str, int], list[float]]) -> bool:
    return got.keys() == want.keys() and all(
        g == pytest.approx(w, rel=1e-9, abs=1e-9) for k in want for g, w in [(got[k], want[k])]
    )


async def play(tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB, watch: MqttWatcher) -> Expected:
    """The day through the gateway; what the watcher saw, once InfluxDB has every derived point."""
    cfg = load_config(hall_file(tmp_path, mosquitto, influx))
    sim = HallSimulator(
        {
            "site": SITE,
            "devices": [
                {"id": "q-1", "kind": "queue", "sim": {"windows": 4, "tickets": 150, "speed": "full", "date": DAY}}
            ],
        },
        mqtt=MqttSettings(port=mosquitto.port),
        rate_per_min=2.0,
        state_dir=None,
    )
    q: QueueSystem = sim.device("q-1")
    async with start_gateway(cfg), sim:
        await q.wait_day(timeout=120)
        await q.wait_sent()
        await watch.wait(on(f"{BASE}/event"), count=len(q.plan.events), timeout=60)
        last = json.loads(retained(mosquitto.port, f"{BASE}/snapshot"))
        await watch.wait(on(f"{BASE}/snapshot", ts=last["ts"]), timeout=30)
        exp = Expected(
            [ln.json for ln in watch.matching(on(f"{BASE}/snapshot"))],
            [ln.json for ln in watch.matching(on(f"{BASE}/event"))],
        )
        for measurement, field, n in (
            ("queue_line", "waiting", len(exp.waiting)),
            ("queue_wait", "wait_s", len(exp.waits)),
            ("queue_handling", "handling_s", len(exp.handled)),
        ):
            await until(
                lambda m=measurement, f=field, n=n: influx.count(DB, m, f) == n,
                timeout=30,
                what=f"{n} {measurement} points",
            )
    return exp


@pytest.mark.timeout(180)
def test_the_queue_panels_answer_the_days_numbers(mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path) -> None:
    influxdb.create_database(DB)
    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        exp = asyncio.run(play(tmp_path, mosquitto, influxdb, watch))
    # a day worth querying: several lines, hours, windows; waits that are not all alike
    lines = {line for line, *_ in exp.waiting}
    assert len(lines) >= 2 and len(grouped(exp.waits, lines, 3600 * S, 0)) >= 8 and len({w for *_, w in exp.waits}) > 20
    assert len(grouped(exp.handled, lines, None, 0)) >= 3 and max(w for *_, w in exp.waiting) > 0

    board = json.loads(BOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v["query"] for v in board["templating"]["list"]}
    res = influxdb.query(variables["site"], db=DB)["results"][0]
    assert [v[1] for v in res["series"][0]["values"]] == [SITE]
    res = influxdb.query(variables["line"].replace("$site", SITE), db=DB)["results"][0]
    assert {v[1] for v in res["series"][0]["values"]} == lines

    midnight = datetime.fromisoformat(DAY).replace(tzinfo=TZ)
    start_ns, end_ns = int(midnight.timestamp()) * S, int(midnight.timestamp() + 86400) * S - 1
    panels = {p["id"]: p for p in board["panels"]}
    assert [p["title"] for p in panels.values()][:2] == [
        "等候人数（按队列） Waiting per line",
        "等候时间 P90（按小时） Waiting time p90 per hour",
    ]
    one = sorted(lines)[0]
    for selection, chosen in ((f"({'|'.join(sorted(lines))})", lines), (one, {one})):  # All, and one line
        for pid, p in panels.items():
            (target,) = p["targets"]
            query = concrete(target["query"], start_ns, end_ns, selection)
            res = influxdb.query(query, db=DB)["results"][0]
            assert "error" not in res, f"{p['title']}: {query}: {res['error']}"
            assert set(target["hallgateColumns"]) <= set(res["series"][0]["columns"]), p["title"]
            tag = "window" if 'GROUP BY "window"' in query else "line"
            got, want = answered(res, tag), expected_rows(pid, exp, chosen, start_ns)
            assert same(got, want), (
                f"{p['title']} ({selection}): {query}\n got {sorted(got.items())[:6]}\nwant {sorted(want.items())[:6]}"
            )
