"""The district's test data (tests/test_district_view.py): five sites' day as their gateways write
it, what was written (the test's own expectation), the bridged topics' messages, the view's clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.publish

from gateway.district.config import DistrictConfig
from gateway.district.serve import Running, running
from gateway.domain.canonical import Event
from gateway.store.district import relabel
from gateway.store.points import make_line, to_line
from tests.servers import Mosquitto, VictoriaMetrics

TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "district-manager-token-0123456789"
WALL = "district-wall-token-0123456789ab"
OFFLINE_AFTER_S = 300
# (id, name, level, parent, has a queue system)
SITES = [
    ("centre", "区政务服务中心", "centre", None, True),
    ("town-01", "城关镇便民服务中心", "town", None, True),
    ("town-02", "新桥镇便民服务中心", "town", None, True),
    ("vil-0101", "东村便民服务站", "village", "town-01", True),
    ("vil-0201", "南湾社区便民服务站", "village", "town-02", False),
]
NO_DATA = ("vil-0202", "北岭村便民服务站", "village", "town-02", False)  # listed, never sent anything
STRAY = "stray-09"  # forwards to the store, not in district.yaml
# The view's "now": yesterday 22:00 in the district, an hour after the day's points were written
# (VictoriaMetrics hides the newest 30 s from queries near the real now; these are hours old).
NOW = (datetime.now(TZ) - timedelta(days=1)).replace(hour=22, minute=0, second=0, microsecond=0).timestamp()
HOUR_START = NOW - 3600
# How long before NOW each site's newest point is: vil-0201 went quiet past the offline delay (and
# past the view's first look, 600 s: it is found by the second); town-02 will, once the clock
# moves on by 101 s.
LAST_BEFORE_NOW = {"centre": 5, "town-01": 10, "town-02": 200, "vil-0101": 30, "vil-0201": 900, STRAY: 20}
FIGURES = ("tickets", "served", "rated", "unrated", "bad", "visitors")


def ns(epoch_s: float) -> int:
    return int(epoch_s * 1000) * 1_000_000


@dataclass
class Written:
    """What the test wrote for one site inside the period: the independent expectation."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    good: int = 0
    handling_s: float = 0.0
    handled: int = 0
    online_ms: int = 0
    observed_ms: int = 0
    queue: bool = True


def site_lines(site: str, has_queue: bool, rng: random.Random, written: Written) -> list[str]:
    """A site's day as its gateway writes it: queue and rating events, handling times, people
    counted and one device's status changes, inside the last hour before NOW; and a day before,
    points the period must not count."""
    lines: list[str] = []
    last = NOW - LAST_BEFORE_NOW[site]
    times = sorted(rng.uniform(HOUR_START, last - 1) for _ in range(60))
    pick = iter(times)
    seq = 0

    def event(device: str, kind: str, name: str, at: float, **fields: Any) -> str:
        nonlocal seq
        seq += 1
        return to_line(Event(device, name, ns(at), fields, seq), site, kind)

    written.queue = has_queue
    if has_queue:
        issued = rng.randint(8, 14)
        served = rng.randint(4, issued - 2)
        for i in range(issued):
            lines.append(event("qs-1", "queue", "issued", next(pick), ticket=f"A{i:03d}", waiting_ahead=i))
        for i in range(served):
            at = next(pick)
            lines.append(event("qs-1", "queue", "finished", at, ticket=f"A{i:03d}", result="done"))
            handling = round(rng.uniform(60, 900), 3)
            lines.append(
                make_line(
                    "queue_handling",
                    {"site": site, "line": "A", "window": "W01"},
                    {"handling_s": handling},
                    ns(at - handling),
                )
            )
            written.handling_s += handling
            written.handled += 1
        written.counts["tickets"], written.counts["served"] = issued, served
    for _ in range(rng.randint(2, written.counts["served"]) if has_queue else 5):  # a rating per served visit at most
        score, at = rng.randint(1, 5), next(pick)
        lines.append(event("rp-1", "rating_pad", "rated", at, score=score, reasons=[]))
        if has_queue:  # the visit it rates, as the site joined them (gateway/features/rated_series.py)
            lines.append(make_line("rated_visit", {"site": site, "window": "W01", "line": "A"}, {"rated": 1}, ns(at)))
        written.counts["rated"] += 1
        written.good += score >= 4
        written.counts["bad"] += score <= 2
    for _ in range(rng.randint(0, 3)):
        lines.append(event("rp-1", "rating_pad", "unrated", next(pick), ticket="A001"))
        written.counts["unrated"] += 1
    for _ in range(4):
        entered = rng.randint(0, 30)
        lines.append(make_line("occupancy", {"site": site, "zone": "*"}, {"in": entered, "out": 0}, ns(next(pick))))
        written.counts["visitors"] += entered
    # The pad's status: online since the day before (so from the day's start), offline for a
    # stretch of the hour, then online again.
    day_start = datetime.fromtimestamp(NOW, TZ).replace(hour=0, minute=0).timestamp()
    off_at, on_at = HOUR_START + rng.randint(60, 1200), HOUR_START + rng.randint(1500, 2400)
    for at, online in ((day_start - 7200, True), (off_at, False), (on_at, True)):
        lines.append(event("rp-1", "rating_pad", "status", at, online=online, fw="1.0"))
    written.observed_ms = round((NOW - day_start) * 1000)
    written.online_ms = written.observed_ms - round((on_at - off_at) * 1000)
    # The site's newest point, exactly at `last`.
    lines.append(event("rp-1", "rating_pad", "heartbeat", last, battery=90))
    # The day before: not in the period.
    if has_queue:
        lines.append(event("qs-1", "queue", "issued", day_start - 3600, ticket="Z001", waiting_ahead=0))
    lines.append(event("rp-1", "rating_pad", "rated", day_start - 3600, score=1, reasons=[]))
    # What the district sink sends: the site's label set on every line.
    return [relabel(line, site) for line in lines]


def write(vm: VictoriaMetrics, lines: list[str]) -> None:
    req = urllib.request.Request(f"{vm.url}/write", data="\n".join(lines).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 204
    with urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=30) as r:
        r.read()


def publish(broker: Mosquitto, topic: str, body: Any, retain: bool = True) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    paho.mqtt.publish.single(topic, payload, qos=1, retain=retain, hostname=broker.host, port=broker.port)


def alert(id_: int, rule: str, device: str, state: str = "open", severity: str = "warning") -> dict[str, Any]:
    return {
        "id": id_,
        "rule": rule,
        "key": device,
        "severity": severity,
        "summary": f"{device} {rule}",
        "device": device,
        "state": state,
        "opened_ns": ns(NOW - 600 + id_),
        "updated_ns": ns(NOW - 600 + id_),
    }


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def day_label() -> str:
    return datetime.fromtimestamp(NOW, TZ).date().isoformat()


def expected(ws: list[Written]) -> dict[str, Any]:
    """The figures of a set of sites, from what was written: counts summed, rates from the sums."""
    out: dict[str, Any] = {k: sum(w.counts[k] for w in ws) for k in FIGURES}
    queue = [w for w in ws if w.queue]
    if not queue:
        out["tickets"] = out["served"] = None
    rated, good = out["rated"], sum(w.good for w in ws)
    out["good_rate"] = round(good / rated, 4) if rated else None
    rated_served = sum(w.counts["rated"] for w in queue)  # pads at a site without a queue: not in 评价率
    out["rating_rate"] = round(rated_served / out["served"], 4) if out["served"] else None
    handled = sum(w.handled for w in ws)
    out["handling_mean_min"] = round(sum(w.handling_s for w in ws) / handled / 60, 2) if handled else None
    out["availability"] = round(sum(w.online_ms for w in ws) / sum(w.observed_ms for w in ws), 4)
    return out


@contextlib.contextmanager
def served(cfg: DistrictConfig, clock: Callable[[], float] = time.time) -> Iterator[Running]:
    """The district view served in a thread of its own (its own event loop) until the block ends."""
    box: dict[str, Any] = {}
    up = threading.Event()

    async def serve() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with running(cfg, clock) as r:
                box["r"] = r
                up.set()
                await box["stop"].wait()
        finally:
            up.set()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="district view")
    thread.start()
    try:
        assert up.wait(30) and "r" in box, "the district view did not start"
        yield box["r"]
    finally:
        if "stop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
