"""Issue 25's "Done when", end to end: three real site gateways (`hallgate run`, each on its own
Mosquitto with its own `site` label) forward to one real `victoria-metrics`. Queue visits and
ratings are published to each site's broker while the district store is stopped and started again
and one site gateway is SIGKILLed and restarted: every acknowledged event lands once in the
district store, per site. Then the district view over that store ranks the three sites with the
figures each site's own day report gives (评价率, 好评率, handling mean, tickets, served)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.district.config import load_district
from tests.district_support import served
from tests.servers import GatewayProcess, Mosquitto, VictoriaMetrics, free_port
from tests.test_district import wait_until

TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "district-done-manager-token-0123456789"
DAY = (datetime.now(TZ) - timedelta(days=1)).date()  # a whole day in the past: the report may be asked
# site -> (tickets issued, the seed of its scores): three sites, three sizes
SITES = {"done-a": 24, "done-b": 16, "done-c": 10}
RESULTS = ("done", "pending_materials", "rejected")


def at(minute: float) -> str:
    """A time of DAY, `minute` minutes after 09:00, as the devices stamp it."""
    t = datetime(DAY.year, DAY.month, DAY.day, 9, tzinfo=TZ) + timedelta(minutes=minute)
    return t.isoformat(timespec="milliseconds")


def site_events(site: str, tickets: int) -> list[tuple[str, dict[str, Any]]]:
    """(device, event) of a site's day: each ticket issued, called, started and finished with a case
    id; most visits rated on their window's pad (scores 1-5 by ticket; the first rating published
    before its visit's `finished`), some prompts expired, and one pad press that names no visit."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(tickets):
        ticket, window = f"A{i + 1:03d}", f"W0{i % 2 + 1}"
        case = f"{site}-2026-{i + 1:05d}"
        t0 = i * 10.0
        out += [
            (
                "q-1",
                {"ts": at(t0), "type": "issued", "ticket": ticket, "line": "A", "item": "社保", "waiting_ahead": 0},
            ),
            ("q-1", {"ts": at(t0 + 1), "type": "called", "ticket": ticket, "window": window, "staff_id": "S1"}),
            ("q-1", {"ts": at(t0 + 2), "type": "started", "ticket": ticket, "window": window, "staff_id": "S1"}),
            (
                "q-1",
                {
                    "ts": at(t0 + 2 + (i % 5) + 1.5),
                    "type": "finished",
                    "ticket": ticket,
                    "window": window,
                    "staff_id": "S1",
                    "case_id": case,
                    "result": RESULTS[i % 3],
                },
            ),
        ]
        pad = f"rp-{window[-1]}"
        rating = {"ticket": ticket, "window": window, "staff_id": "S1", "item": "社保", "case_id": case}
        if i % 4 == 3:
            out.append((pad, {"ts": at(t0 + 9), "type": "unrated", **rating}))
        else:
            score = (i * 7 + len(site)) % 5 + 1
            reasons = ["态度"] if score <= 2 else []
            rated = (pad, {"ts": at(t0 + 9), "type": "rated", "score": score, "reasons": reasons, **rating})
            # The first visit's rating reaches the gateway before its `finished` (joined on a later pass).
            out.insert(len(out) - 1 if i == 0 else len(out), rated)
    # A citizen pressed the pad between visits: a rating of no visit (no case id, no ticket served).
    stray = {"ticket": "", "window": "W01", "staff_id": "S1", "item": "", "case_id": "", "score": 5, "reasons": []}
    out.append(("rp-1", {"ts": at(tickets * 10.0 + 5), "type": "rated", **stray}))
    return out


def hall_yaml(folder: Path, site: str, broker: Mosquitto, vm: VictoriaMetrics, api_port: int) -> str:
    return f"""
site: {site}
timezone: Asia/Shanghai
api:
  port: {api_port}
  tokens: [{{role: manager, env: DD_TOKEN}}]
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite, flush_interval_s: 0.2}}
district:
  {{url: "{vm.url}", site_label: {site}, start_jitter_s: 0, max_age_days: 36500, rated_visits_every_s: 0.5}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-2, kind: rating_pad, profile: ref-rating-pad, window: W02}}
  - {{id: q-1, kind: queue, profile: ref-queue}}
"""


@dataclass
class Site:
    name: str
    broker: Mosquitto
    gateway: GatewayProcess
    events: list[tuple[str, dict[str, Any]]]
    acked: int = 0
    seq: dict[str, int] = field(default_factory=dict)


def publish(site: Site, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Publishes events at QoS 1 and waits for each PUBACK: acknowledged by the site's broker, whose
    persistent session holds them for the site gateway (running, killed or restarting)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"dd-{site.name}")
    client.connect(site.broker.host, site.broker.port)
    client.loop_start()
    try:
        for device, event in events:
            seq = site.seq[device] = site.seq.get(device, 0) + 1
            topic = f"hall/{site.name}/{'queue' if device == 'q-1' else 'rating'}/{device}/event"
            info = client.publish(topic, json.dumps({"seq": seq, **event}, ensure_ascii=False), qos=1)
            info.wait_for_publish(30)
            assert info.is_published()
            site.acked += 1
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("district-done")
    os.environ["DD_TOKEN"] = TOKEN
    (root / "vm").mkdir()
    vm = VictoriaMetrics(root / "vm")
    vm.start()
    sites: dict[str, Site] = {}
    try:
        for name, tickets in SITES.items():
            folder = root / name
            (folder / "broker").mkdir(parents=True)
            broker = Mosquitto(folder / "broker")
            broker.start()
            gw = GatewayProcess(folder, broker, SimpleNamespace(url=""))  # type: ignore[arg-type]  # its hall file is replaced
            gw.config.write_text(hall_yaml(folder, name, broker, vm, gw.api_port))
            sites[name] = Site(name, broker, gw, site_events(name, tickets))
            gw.start()
        play(vm, sites)
        yield {"root": root, "vm": vm, "sites": sites}
    finally:
        for s in sites.values():
            s.gateway.stop()
            s.broker.stop()
        vm.stop()
        del os.environ["DD_TOKEN"]


def stored(vm: VictoriaMetrics, series: str = "queue_event_seq|rating_pad_event_seq") -> dict[str, int]:
    """site -> the samples stored in the district store (each event is one `seq` sample)."""
    out: dict[str, int] = {}
    for s in vm.export(f'{{__name__=~"{series}"}}'):
        out[s["metric"]["site"]] = out.get(s["metric"]["site"], 0) + len(s["timestamps"])
    return out


def play(vm: VictoriaMetrics, sites: dict[str, Site]) -> None:
    """Each site's events in thirds: the first forwarded, the second while the district store is down,
    the third while one site gateway is SIGKILLed (its broker holds them); then both back. Played in
    the module's fixture: the processes it restarts live as long as the module's."""
    thirds = {}
    for n, s in sites.items():
        k = len(s.events) // 3
        thirds[n] = [s.events[:k], s.events[k : 2 * k], s.events[2 * k :]]
    for n, s in sites.items():
        publish(s, thirds[n][0])
    wait_until("the first third in the district store", lambda: stored(vm) == {n: s.acked for n, s in sites.items()})
    vm.stop()  # the district store's outage: its process is gone
    for n, s in sites.items():
        publish(s, thirds[n][1])
    killed = sites["done-b"].gateway
    wait_until(
        "the killed site's second third in its outbox",
        lambda: (
            httpx.get(f"{killed.api_url}/readyz", timeout=5).json()["detail"]["district"]["pending_records"]
            >= len(thirds["done-b"][1])
        ),
    )
    killed.kill()  # SIGKILL with a district backlog, while its broker takes more
    for n, s in sites.items():
        publish(s, thirds[n][2])
    killed.start()
    vm.start()


def test_every_acknowledged_event_lands_once_per_site_across_a_store_outage_and_a_sigkill(
    district: dict[str, Any],
) -> None:
    vm, sites = district["vm"], district["sites"]
    want = {n: s.acked for n, s in sites.items()}
    assert want == {n: len(s.events) for n, s in sites.items()}  # every event was acknowledged
    wait_until("every acknowledged event in the district store", lambda: stored(vm) == want, timeout=60)
    assert stored(vm) == want  # once each: not one more, per site


def report(site: Site) -> dict[str, Any]:
    """The site's own day report (POST /api/v1/reports, then its JSON): figure name -> value."""
    api, auth = site.gateway.api_url, {"Authorization": f"Bearer {TOKEN}"}
    row = httpx.post(f"{api}/api/v1/reports", json={"kind": "day", "period": DAY.isoformat()}, headers=auth, timeout=60)
    assert row.status_code == 201, row.text
    assert row.json()["status"] == "done", row.json()
    body = httpx.get(f"{api}/api/v1/reports/{row.json()['id']}.json", headers=auth, timeout=30).json()
    return {f["name"]: f["value"] for s in body["sections"] for f in s["figures"]}


def test_the_district_ranks_the_sites_with_the_figures_of_their_own_reports(district: dict[str, Any]) -> None:
    vm, sites, root = district["vm"], district["sites"], district["root"]
    want = {n: len(s.events) for n, s in sites.items()}
    wait_until("every event in the district store", lambda: stored(vm) == want, timeout=60)
    # The visits the test rated (every ticket but each fourth's expired prompt), as the sites joined them.
    rated = {n: sum(i % 4 != 3 for i in range(tickets)) for n, tickets in SITES.items()}
    wait_until("the sites' rated visits in the district store", lambda: stored(vm, "rated_visit_rated") == rated)
    levels = dict(zip(SITES, ("centre", "town", "village"), strict=True))
    rows = "".join(f"  - {{id: {n}, name: {n}站, level: {lv}}}\n" for n, lv in levels.items())
    config = root / "district.yaml"
    config.write_text(
        f"name: 测试区\nstore: {{url: '{vm.url}'}}\n"
        f"api: {{port: {free_port()}, tokens: [{{role: manager, env: DD_TOKEN}}]}}\n"
        "ranking: {weights: {good_rate: 50, rating_rate: 25, handling_mean: 25}}\n"
        f"sites:\n{rows}",
        encoding="utf-8",
    )
    pairs = {
        "tickets": "calls.tickets",
        "served": "calls.served",
        "rating_rate": "ratings.rating_rate",
        "good_rate": "ratings.good_rate",
        "handling_mean_min": "calls.handling_mean",
        "rated": "ratings.rated",
    }
    with served(load_district(config)) as r:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        got = httpx.get(f"{r.url}/api/v1/figures", params={"period": DAY.isoformat()}, headers=auth, timeout=30)
        ranking = httpx.get(f"{r.url}/api/v1/ranking", params={"period": DAY.isoformat()}, headers=auth, timeout=30)
    assert got.status_code == 200 and ranking.status_code == 200, (got.text, ranking.text)
    district_figures = {s["id"]: s for s in got.json()["sites"]}
    own = {n: report(s) for n, s in sites.items()}
    for n in sites:
        assert {k: district_figures[n][k] for k in pairs} == {k: own[n][v] for k, v in pairs.items()}, n
    # The ranking's values are those figures, and its order the one they give.
    ranked = {row["site"]: row["values"] for row in ranking.json()["rows"]}
    assert ranked.keys() == set(sites)
    for n, values in ranked.items():
        assert values == {
            "good_rate": own[n]["ratings.good_rate"],
            "rating_rate": own[n]["ratings.rating_rate"],
            "handling_mean": own[n]["calls.handling_mean"],
        }, n
