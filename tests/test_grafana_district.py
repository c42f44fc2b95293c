"""The district dashboard (dashboards/grafana/district.json) against a real victoria-metrics: known
points of seven sites (heartbeats, ratings, device statuses, labelled with site and level as vmauth
labels them) are written, and every panel's query, with Grafana's macros and variables filled in
as Grafana sends them, must answer the numbers worked out here from those points. Deliberately
wrong queries (a window, a filter, an aggregation, a threshold off) must not."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway.paths import DASHBOARD_DIR
from tests.servers import VictoriaMetrics

BOARD = DASHBOARD_DIR.parent / "grafana" / "district.json"
SITES = {"c": "centre", "t-1": "town", "t-2": "town", "v-1": "village", "v-2": "village", "v-3": "village"}
SITES |= {"v-4": "village"}
OFFLINE = {"t-2", "v-4"}  # no heartbeat in the last 5 minutes
RANGE_S, INTERVAL_S, SERIES_S = 3600, 60, 1800  # $__range; $__interval; the time series panel's span
Result = dict[tuple[str, ...], float]  # (label value, [step time]) -> value


@dataclass
class Written:
    end_s: int  # the panels' "now": a whole minute
    samples: list[tuple[str, int]] = field(default_factory=list)  # (site, ms) of every sample written
    heartbeats: list[tuple[str, int]] = field(default_factory=list)
    ratings: list[tuple[str, int, str, int]] = field(default_factory=list)  # (site, ms, type, score)
    statuses: list[tuple[str, str, int, int]] = field(default_factory=list)  # (site, device, ms, online)


def fill(rng: random.Random, end_s: int) -> tuple[Written, list[str]]:
    w, lines = Written(end_s), []
    end_ms = end_s * 1000

    def point(site: str, name: str, tags: str, fields: dict[str, int], ms: int) -> None:
        body = ",".join(f"{k}={v}i" for k, v in fields.items())
        lines.append(f"{name},site={site},level={SITES[site]}{tags} {body} {ms}")
        w.samples += [(site, ms)] * len(fields)

    for site in SITES:
        newest = 400 if site in OFFLINE else 10  # seconds before the end
        for i in range(rng.randint(3, 12)):
            ms = end_ms - rng.randint(newest * 1000, 3000 * 1000) + 7 * i  # no two on the same ms
            point(site, "heartbeat", ",device=rp-1", {"seq": i, "rssi": -60}, ms)
            w.heartbeats.append((site, ms))
        for i in range(rng.randint(5, 40)):
            kind = "rated" if rng.random() < 0.8 else "cancelled"  # a query without the type filter counts these
            ms = end_ms - rng.randint(5_000, (RANGE_S + 600) * 1000) + 3 * i  # some before the range
            score = rng.randint(1, 5)
            point(site, "rating_pad_event", f",device=rp-2,type={kind}", {"score": score, "seq": i}, ms)
            w.ratings.append((site, ms, kind, score))
        for dev in ("lb-1", "att-1", "pc-1"):
            for i in range(rng.randint(1, 4)):
                ms = end_ms - rng.randint(60_000, RANGE_S * 1000 - 60_000) + 11 * i
                online = rng.randint(0, 1)
                point(site, "device_status", f",device={dev}", {"online": online}, ms)
                w.statuses.append((site, dev, ms, online))
    return w, lines


def expected(panel: int, w: Written) -> Result:
    end_ms, out = w.end_s * 1000, {}
    recent = {s for s, ms in w.heartbeats if end_ms - 300_000 < ms <= end_ms}
    in_range = [(s, sc) for s, ms, kind, sc in w.ratings if kind == "rated" and end_ms - RANGE_S * 1000 < ms <= end_ms]
    if panel == 1:
        return {(): float(len(recent))}
    if panel == 2:
        return {(lv,): float(n) for lv, n in Counter(SITES[s] for s in recent).items()}
    if panel == 3:
        return {(lv,): float(n) for lv, n in Counter(SITES[s] for s, _ in in_range).items()}
    if panel == 4:
        by: dict[str, list[int]] = defaultdict(list)
        for s, sc in in_range:
            by[SITES[s]].append(sc)
        return {(lv,): sum(v) / len(v) for lv, v in by.items()}
    if panel == 5:
        return {(s,): float(sum(1 for s2, sc in in_range if s2 == s and sc <= 2)) for s in {s for s, _ in in_range}}
    if panel == 6:
        last: dict[tuple[str, str], tuple[int, int]] = {}
        for s, dev, ms, online in w.statuses:
            if end_ms - RANGE_S * 1000 < ms <= end_ms:
                last[s, dev] = max(last.get((s, dev), (0, 0)), (ms, online))
        off = Counter(s for (s, _), (_, online) in last.items() if online == 0)
        return {(s,): float(n) for s, n in off.items()}
    if panel == 7:
        for step in range(w.end_s - SERIES_S, w.end_s + 1, INTERVAL_S):
            n = Counter(s for s, ms in w.samples if (step - INTERVAL_S) * 1000 < ms <= step * 1000)
            out |= {(s, str(step)): c / INTERVAL_S for s, c in n.items()}
        return out
    raise AssertionError(panel)


def concrete(expr: str) -> str:
    """The query as Grafana sends it: its macros and the site variable (All: `.*`) filled in."""
    q = expr.replace("$__range", f"{RANGE_S}s").replace("$__interval_s", str(INTERVAL_S))
    q = q.replace("$__interval", f"{INTERVAL_S}s")
    return re.sub(r"\$\{?site\}?", ".*", q)


def answered(vm: VictoriaMetrics, target: dict, end_s: int, expr: str | None = None) -> Result:
    q = concrete(expr or target["expr"])
    if target.get("range"):
        params = {"query": q, "start": end_s - SERIES_S, "end": end_s, "step": f"{INTERVAL_S}s"}
        r = httpx.get(f"{vm.url}/api/v1/query_range", params=params, timeout=30)
    else:
        r = httpx.get(f"{vm.url}/api/v1/query", params={"query": q, "time": end_s}, timeout=30)
    assert r.status_code == 200, (q, r.text)
    out: Result = {}
    for row in r.json()["data"]["result"]:
        key = tuple(row["metric"].values())
        if target.get("range"):
            out |= {(*key, str(int(t))): float(v) for t, v in row["values"]}
        else:
            out[key] = float(row["value"][1])
    return out


def same(got: Result, want: Result) -> bool:
    return got.keys() == want.keys() and all(got[k] == pytest.approx(want[k], rel=1e-9) for k in want)


@dataclass
class Filled:
    vm: VictoriaMetrics
    written: Written
    board: dict


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    folder = tmp_path_factory.mktemp("vm")
    vm = VictoriaMetrics(folder, ["-search.latencyOffset=0s", "-search.disableCache"])
    vm.start()
    try:
        end_s = int(time.time()) // 60 * 60
        written, lines = fill(random.Random(25), end_s)
        r = httpx.post(f"{vm.url}/write", params={"precision": "ms"}, content="\n".join(lines), timeout=30)
        assert r.status_code == 204, r.text
        httpx.get(f"{vm.url}/internal/force_flush", timeout=30)
        board = json.loads(Path(BOARD).read_text(encoding="utf-8"))
        # victoria-metrics makes series new in the current hour searchable by a periodic update
        # (seconds): wait until the panels answer from all of them (30 s at most; a panel still
        # wrong then fails the test below with its numbers), so that a wrong query is not tried on
        # a store still settling.
        deadline = time.monotonic() + 30
        for panel, target in targets(board):
            while not same(answered(vm, target, end_s), expected(panel, written)) and time.monotonic() < deadline:
                time.sleep(0.5)
        yield Filled(vm, written, board)
    finally:
        vm.stop()


def targets(board: dict) -> Iterator[tuple[int, dict]]:
    for p in board["panels"]:
        for t in p["targets"]:
            yield p["id"], t


def test_every_panel_answers_what_the_points_written_say(filled: Filled) -> None:
    checked = 0
    for panel, target in targets(filled.board):
        got, want = answered(filled.vm, target, filled.written.end_s), expected(panel, filled.written)
        assert want and same(got, want), f"panel {panel}: {target['expr']}\n got {got}\nwant {want}"
        checked += 1
    assert checked == 7
    r = httpx.get(f"{filled.vm.url}/api/v1/label/site/values", timeout=30)  # the $site variable's query
    assert sorted(r.json()["data"]) == sorted(SITES)


WRONG = {
    1: ['count(count by (site) (count_over_time({__name__=~"heartbeat_.+"}[15m])))'],
    2: ['count by (level) (count_over_time({__name__=~"heartbeat_.+"}[5m]))'],
    3: ['sum by (level) (count_over_time(rating_pad_event_score{site=~"$site"}[$__range]))'],
    4: ['avg by (level) (avg_over_time(rating_pad_event_score{type="rated", site=~"$site"}[$__range]))'],
    5: ['sum by (site) (count_le_over_time(rating_pad_event_score{type="rated", site=~"$site"}[$__range], 3))'],
    6: ['count by (site) (min_over_time(device_status_online{site=~"$site"}[$__range]) == 0)'],
    7: ['sum by (site) (count_over_time({site=~"$site", site!=""}[$__interval]))'],
}


def test_a_wrong_query_does_not_pass(filled: Filled) -> None:
    for panel, target in targets(filled.board):
        for wrong in WRONG[panel]:
            got = answered(filled.vm, target, filled.written.end_s, wrong)
            assert not same(got, expected(panel, filled.written)), f"panel {panel}: {wrong} passed"
