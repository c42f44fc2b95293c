"""The district's view over 366 sites (issue 25's number: a month's ranking over 366 sites in < 1 s).

A real `victoria-metrics` is filled with a month of 1 centre (3,000 visits a day), 28 towns (200)
and 337 villages (20), each visit as the sites forward it (gateway/store/points.py: the ticket's
`issued` and `finished` events, its handling time, a rating for four in five; 差评 among them),
the hall's people counted in 5-minute bins over 9 hours, a pad's status changing thrice a day, and
the last 10 minutes of 10 devices' heartbeats per site. Then `hallgate district`'s server (the
same code, in-process on a real socket) is asked over HTTP, each `--runs` times: the month's
ranking, the month's figures, every site's state, and the overview and ranking pages.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench.common import Options, Row
from gateway.district.config import DistrictConfig
from gateway.district.serve import running
from gateway.domain.canonical import Event
from gateway.domain.periods import month
from gateway.store.points import make_line, to_line
from tests.servers import VictoriaMetrics, free_port

TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "district-bench-token-0123456789"
VISITS = {"centre": 3000, "town": 200, "village": 20}


def sites() -> list[dict[str, Any]]:
    out = [{"id": "centre", "name": "区政务服务中心", "level": "centre"}]
    out += [{"id": f"town-{t:02d}", "name": f"第{t}镇便民服务中心", "level": "town"} for t in range(1, 29)]
    out += [
        {"id": f"vil-{v:03d}", "name": f"第{v}村便民服务站", "level": "village", "parent": f"town-{v % 28 + 1:02d}"}
        for v in range(1, 338)
    ]
    return out


def ns(s: float) -> int:
    return int(s * 1000) * 1_000_000


def day_lines(site: str, level: str, day_start: float, rng: random.Random) -> list[str]:
    out: list[str] = []
    seq = 0

    def event(device: str, kind: str, name: str, at: float, **fields: Any) -> str:
        nonlocal seq
        seq += 1
        return to_line(Event(device, name, ns(at), fields, seq), site, kind)

    opens = day_start + 9 * 3600
    for i in range(VISITS[level]):
        issued = opens + rng.uniform(0, 8 * 3600)
        started = issued + rng.uniform(60, 1800)
        finished = started + rng.uniform(120, 1200)
        out.append(event("qs-1", "queue", "issued", issued, ticket=f"A{i:04d}", waiting_ahead=3))
        out.append(event("qs-1", "queue", "finished", finished, ticket=f"A{i:04d}", result="done"))
        out.append(
            make_line(
                "queue_handling",
                {"site": site, "line": "A", "window": "W01"},
                {"handling_s": finished - started},
                ns(started),
            )
        )
        if rng.random() < 0.8:
            score = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 4, 2))[0]
            out.append(event("rp-1", "rating_pad", "rated", finished + 30, score=score, window="W01"))
            # the visit rated, as the site joins it (gateway/features/rated_series.py)
            out.append(
                make_line("rated_visit", {"site": site, "window": "W01", "line": "A"}, {"rated": 1}, ns(finished))
            )
    for b in range(108):
        fields = {"in": rng.randint(0, 20), "out": rng.randint(0, 20), "occupancy": 10, "clamped": 0}
        out.append(make_line("occupancy", {"site": site, "zone": "*"}, fields, ns(opens + b * 300)))
    for at, online in ((opens, True), (opens + 3600, False), (opens + 3700, True)):
        out.append(event("rp-1", "rating_pad", "status", at, online=online))
    return out


def fill(vm: VictoriaMetrics, span_days: list[float], now: float) -> int:
    rng = random.Random(25)
    n = 0
    with httpx.Client(timeout=120) as client:
        for s in sites():
            lines: list[str] = []
            for d in span_days:
                lines += day_lines(s["id"], s["level"], d, rng)
            for dev in range(10):
                for k in range(20):
                    at = now - 600 + k * 30
                    lines.append(
                        make_line(
                            "heartbeat",
                            {"site": s["id"], "device": f"d{dev}"},
                            {"uptime_s": k, "rssi": -60, "battery": 90},
                            ns(at),
                        )
                    )
            client.post(f"{vm.url}/write", content="\n".join(lines).encode()).raise_for_status()
            n += len(lines)
        client.get(f"{vm.url}/internal/force_flush").raise_for_status()
    return n


def timed(client: httpx.Client, url: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text[:300]
    return out


def run(opts: Options) -> list[Row]:
    now = time.time()
    today = datetime.now(TZ).date()
    last = month(*(today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12))
    days = [
        datetime.combine(last.start + timedelta(days=i), datetime.min.time(), TZ).timestamp() for i in range(last.days)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-district-") as tmp:
        vm = VictoriaMetrics(Path(tmp), extra_args=["-retentionPeriod=1y"])
        vm.start()
        try:
            t = time.perf_counter()
            lines = fill(vm, days, now)
            print(f"  {lines:,} lines of 366 sites written in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            cfg = DistrictConfig.model_validate(
                {
                    "name": "bench",
                    "store": {"url": vm.url, "timeout_s": 60},
                    "api": {"port": free_port(), "tokens": [{"role": "viewer", "env": "BENCH_DISTRICT_TOKEN"}]},
                    "sites": sites(),
                }
            )
            os.environ["BENCH_DISTRICT_TOKEN"] = TOKEN
            return _measure(cfg, last.label, opts.runs)
        finally:
            vm.stop()


def _measure(cfg: DistrictConfig, period: str, runs: int) -> list[Row]:
    box: dict[str, Any] = {}
    up = threading.Event()

    async def serve() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with running(cfg) as r:
                box["url"] = r.url
                up.set()
                await box["stop"].wait()
        finally:
            up.set()

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()
    try:
        up.wait(60)
        base = box["url"]
        rows = []
        with httpx.Client(
            timeout=120, headers={"Authorization": f"Bearer {TOKEN}"}, cookies={"hallgate_district": TOKEN}
        ) as c:
            for name, path in (
                ("month's ranking, 366 sites (API)", f"/api/v1/ranking?period={period}"),
                ("month's figures per site and level (API)", f"/api/v1/figures?period={period}"),
                ("every site's state (API)", "/api/v1/sites"),
                ("ranking page", f"/ranking?period={period}"),
                ("overview page (this month)", "/"),
            ):
                ms = timed(c, f"{base}{path}", runs)
                rows.append(Row.of("district_view", name, "ms", ms, target="< 1000" if "ranking" in name else ""))
        return rows
    finally:
        if "stop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
