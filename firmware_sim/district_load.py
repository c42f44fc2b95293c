"""`hallgate sim district --sites 366 --store URL`: a district's forwarding, played into the
district store (issue 25). One process plays every site's forwarder as a real gateway does it:
its series at their real rates, a write of the lines due every `flush_s` (InfluxDB line protocol,
POST /write, the site's own login at vmauth), a backlog kept through a link cut and sent after it
at most at the catch-up rate, in batches. It writes the line protocol itself (no gateway code).

A site's series by level (a village station is firmware_sim/templates/village.yaml: 4 MQTT
devices and a people counter; a town centre about four times that; the city centre 60 windows'
pads, lockboxes and attendance machines, 66 MQTT devices, and 8 counters):
every MQTT device a heartbeat every 30 s and an event every 30 s (2 a minute), every people
counter a reading a second. Every line carries `seq` (per series), so the store's count of
`*_seq` samples per site is the count of lines it took; the report says what each site sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

# (MQTT devices, people counters) per site of a level.
LEVEL_DEVICES = {"centre": (66, 8), "town": (18, 2), "village": (4, 1)}
HEARTBEAT_S, EVENT_S, READING_S = 30.0, 30.0, 1.0
MEASUREMENTS = ("heartbeat", "rating_pad_event", "people_counter")  # what the store's count reads


@dataclass(frozen=True, slots=True)
class SiteSpec:
    id: str
    level: str
    password: str | None = None


def generated_sites(n: int) -> list[SiteSpec]:
    """n sites shaped like the district: one centre, a town for every 13 sites, villages."""
    towns = min(n - 1, round((n - 1) * 28 / 365)) if n > 1 else 0
    sites = [SiteSpec("centre", "centre")] + [SiteSpec(f"town-{i:02d}", "town") for i in range(1, towns + 1)]
    return (sites + [SiteSpec(f"village-{i:03d}", "village") for i in range(1, n - len(sites) + 1)])[:n]


def sites_from_file(path: Path, limit: int | None = None) -> list[SiteSpec]:
    """The sites of a district.yaml (id, level, the password from `password_env`)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for s in raw.get("sites") or []:
        env = s.get("password_env")
        out.append(SiteSpec(str(s["id"]), str(s["level"]), os.environ.get(env) if env else None))
    return out[:limit] if limit else out


@dataclass
class Series:
    measurement: str
    tags: str
    period_s: float
    next_s: float
    fields: str  # the fields besides seq
    seq: int = 0


def site_series(spec: SiteSpec, start_s: float, rng: random.Random) -> list[Series]:
    mqtt, counters = LEVEL_DEVICES[spec.level]
    out: list[Series] = []

    def add(measurement: str, tags: str, period: float, fields: str) -> None:
        # The site's label as its gateway sends it (at vmauth, its login's wins anyway).
        tags += f",site={spec.id}"
        out.append(Series(measurement, tags, period, start_s + rng.random() * period, fields))

    for i in range(1, mqtt + 1):
        add("heartbeat", f",device=rp-{i:03d},kind=rating_pad", HEARTBEAT_S, "rssi=-61i,uptime_s=3600i")
        add("rating_pad_event", f",device=rp-{i:03d},kind=rating_pad,type=rated", EVENT_S, "score=5i")
    for i in range(1, counters + 1):
        add("people_counter", f",device=pc-{i:02d},kind=people_counter", READING_S, "in_total=120i,out_total=110i")
    return out


@dataclass
class SiteLoad:
    """One site's forwarder: lines due at their times, a backlog, a link that may be cut."""

    spec: SiteSpec
    series: list[Series]
    cut: tuple[float, float] | None  # (from, to) in seconds since start, or no cut
    backlog: deque[str] = field(default_factory=deque)
    made: int = 0
    sent: int = 0
    errors: int = 0
    peak_backlog: int = 0
    back_from_cut: bool = False
    behind: int = 0  # a site back from a long cut: the lines it had at the start
    caught_up_s: float | None = None  # ... and when it had sent them, seconds from the start
    posts: list[tuple[float, int]] = field(default_factory=list)  # (when, lines) of each write taken

    def due(self, now_s: float, until_s: float) -> None:
        """Make every line due by now (none after `until_s`: the run's end)."""
        limit = min(now_s, until_s)
        for s in self.series:
            while s.next_s <= limit:
                s.seq += 1
                ts = int(s.next_s * 1000)  # milliseconds: VictoriaMetrics' precision
                self.backlog.append(f"{s.measurement}{s.tags} {s.fields},seq={s.seq}i {ts}")
                s.next_s += s.period_s
                self.made += 1
        self.peak_backlog = max(self.peak_backlog, len(self.backlog))

    def cut_now(self, since_start_s: float) -> bool:
        return self.cut is not None and self.cut[0] <= since_start_s < self.cut[1]


@dataclass
class Settings:
    store: str
    seconds: float = 60.0
    flush_s: float = 1.0
    cut_s: float = 0.0  # each site's one link cut, at a random time in the run's middle
    catch_up_rate: float = 2000.0  # points a second, per site, after a cut
    backlog_sites: int = 0  # sites starting back from a cut of backlog_s: their backlog at once
    backlog_s: float = 0.0
    batch_size: int = 1000
    drain_timeout_s: float = 300.0
    concurrency: int = 64
    seed: int = 0


async def _post(client: httpx.AsyncClient, url: str, site: SiteLoad, lines: list[str]) -> bool:
    headers = {}
    if site.spec.password is not None:
        token = base64.b64encode(f"{site.spec.id}:{site.spec.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        r = await client.post(f"{url}/write", params={"precision": "ms"}, content="\n".join(lines), headers=headers)
    except httpx.HTTPError:
        site.errors += 1
        return False
    if r.status_code >= 300:
        site.errors += 1
        return False
    site.sent += len(lines)
    site.posts.append((time.time(), len(lines)))
    return True


async def _forward(client: httpx.AsyncClient, cfg: Settings, site: SiteLoad, gate: asyncio.Semaphore) -> None:
    """Send what the backlog holds, in batches, at most catch_up_rate * flush_s points per flush."""
    allowance = max(1, int(cfg.catch_up_rate * cfg.flush_s))
    while site.backlog and allowance > 0:
        n = min(len(site.backlog), cfg.batch_size, allowance)
        lines = [site.backlog[i] for i in range(n)]
        async with gate:
            ok = await _post(client, cfg.store, site, lines)
        if not ok:
            return  # kept: the next flush tries again
        for _ in range(n):
            site.backlog.popleft()
        allowance -= n


async def _site_loop(
    client: httpx.AsyncClient, cfg: Settings, site: SiteLoad, t0: float, offset: float, gate: asyncio.Semaphore
) -> None:
    """The site's flushes: every flush_s from its own offset until the run ends and its backlog is sent."""
    k = 0
    while True:
        k += 1
        at = t0 + offset + k * cfg.flush_s
        await asyncio.sleep(max(0.0, at - time.time()))
        now = time.time()
        site.due(now, t0 + cfg.seconds)
        if k == 1 and site.back_from_cut:
            site.behind = len(site.backlog)
        if now >= t0 + cfg.seconds and not site.backlog:
            return
        if now >= t0 + cfg.seconds + cfg.drain_timeout_s:
            return
        if not site.cut_now(now - t0):
            await _forward(client, cfg, site, gate)
            if site.behind and site.caught_up_s is None and site.sent >= site.behind:
                site.caught_up_s = time.time() - t0


def plan(specs: list[SiteSpec], cfg: Settings, t0: float) -> list[SiteLoad]:
    rng = random.Random(cfg.seed)
    loads = []
    back = set(rng.sample(range(len(specs)), min(cfg.backlog_sites, len(specs))))
    for i, spec in enumerate(specs):
        cut = None
        if cfg.cut_s > 0:
            # Anywhere in the run's middle half, ending before the run does.
            start = cfg.seconds * 0.25 + rng.random() * max(0.0, cfg.seconds * 0.5 - cfg.cut_s)
            cut = (start, min(start + cfg.cut_s, cfg.seconds))
        # A site back from a cut of backlog_s: its series ran on meanwhile, nothing went out.
        start = t0 - cfg.backlog_s if i in back else t0
        loads.append(SiteLoad(spec, site_series(spec, start, rng), cut, back_from_cut=i in back))
    return loads


def nominal_rate(specs: list[SiteSpec]) -> float:
    """Points a second the sites make together."""
    total = 0.0
    for s in specs:
        mqtt, counters = LEVEL_DEVICES[s.level]
        total += mqtt * (1 / HEARTBEAT_S + 1 / EVENT_S) + counters / READING_S
    return total


async def play(specs: list[SiteSpec], cfg: Settings, progress: Any = None) -> dict[str, Any]:
    """Play the district for cfg.seconds, then drain every backlog; the report."""
    t0 = time.time()
    loads = plan(specs, cfg, t0)
    gate = asyncio.Semaphore(cfg.concurrency)
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tasks = [
            asyncio.create_task(_site_loop(client, cfg, s, t0, i / len(loads) * cfg.flush_s, gate))
            for i, s in enumerate(loads)
        ]
        if progress is not None:
            tasks.append(asyncio.create_task(progress(loads, t0)))
        await asyncio.gather(*tasks[: len(loads)])
        for t in tasks[len(loads) :]:
            t.cancel()
    end = time.time()
    per_s: Counter[int] = Counter()
    for s in loads:
        for at, n in s.posts:
            per_s[int(at - t0)] += n
    back = [s for s in loads if s.behind]
    return {
        "store": cfg.store,
        "started_s": t0,
        "played_s": cfg.seconds,
        "backlog_s": cfg.backlog_s,
        "peak_points_per_s": max(per_s.values(), default=0),
        "points_per_s": [per_s.get(i, 0) for i in range(max(per_s, default=-1) + 1)],
        "catch_up": {
            "sites": len(back),
            "points_behind": sum(s.behind for s in back),
            "all_caught_up_s": max((s.caught_up_s or float("inf") for s in back), default=None),
        },
        "drained_s": round(end - t0 - cfg.seconds, 1),
        "nominal_points_per_s": round(nominal_rate(specs), 1),
        "made": sum(s.made for s in loads),
        "sent": sum(s.sent for s in loads),
        "left": sum(len(s.backlog) for s in loads),
        "sites": {
            s.spec.id: {
                "level": s.spec.level,
                "made": s.made,
                "sent": s.sent,
                "left": len(s.backlog),
                "errors": s.errors,
                "cut": None if s.cut is None else [round(s.cut[0], 1), round(s.cut[1], 1)],
                "peak_backlog": s.peak_backlog,
            }
            for s in loads
        },
    }


async def _progress(loads: list[SiteLoad], t0: float) -> None:
    while True:
        await asyncio.sleep(10)
        cut = sum(1 for s in loads if s.cut_now(time.time() - t0))
        print(
            f"区级负载 (district)：第 {time.time() - t0:.0f} 秒，已发送 {sum(s.sent for s in loads)} 个数据点，"
            f"待发 {sum(len(s.backlog) for s in loads)} 个，{cut} 个站点断网中",
            flush=True,
        )


def main(args: Any) -> int:
    """From `hallgate sim district --store URL ...` (firmware_sim/cli_args.py)."""
    if args.district_file is not None:
        specs = sites_from_file(args.district_file, args.halls)
    else:
        specs = generated_sites(args.halls)
    cfg = Settings(
        store=args.store.rstrip("/"),
        seconds=args.seconds,
        cut_s=args.cut_s,
        catch_up_rate=args.catch_up_rate,
        backlog_sites=args.backlog_sites,
        backlog_s=args.backlog_s if args.backlog_sites else 0.0,
        seed=int(args.seed) if str(args.seed).isdigit() else 0,
    )
    levels = {lv: sum(1 for s in specs if s.level == lv) for lv in LEVEL_DEVICES}
    print(
        f"区级负载 (district)：{len(specs)} 个站点 {levels} 写入 {cfg.store}，运行 {cfg.seconds:.0f} 秒，"
        f"额定每秒 {nominal_rate(specs):.0f} 个数据点，每个站点断网 {cfg.cut_s:.0f} 秒",
        flush=True,
    )
    report = asyncio.run(play(specs, cfg, _progress))
    print(
        f"区级负载 (district)：产生 {report['made']}，已发送 {report['sent']}，未发出 {report['left']}"
        f"（结束后 {report['drained_s']} 秒发完）",
        flush=True,
    )
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"district: report {args.report}", flush=True)
    return 0 if report["left"] == 0 else 1


def stored_by_site(
    url: str, report: dict[str, Any], auth: tuple[str, str] | None = None, timeout: float = 60
) -> dict[str, int]:
    """What the store holds of the run, lines per site: its `*_seq` samples in the run's time span.
    (The store must show fresh samples at once: VictoriaMetrics -search.latencyOffset=0s.)"""
    end = report["started_s"] + report["played_s"] + 1
    span = int(report["played_s"] + report.get("backlog_s", 0) + 3)
    names = "|".join(MEASUREMENTS)
    query = f'sum by (site) (count_over_time({{__name__=~"({names})_seq"}}[{span}s]))'
    with httpx.Client(timeout=timeout, auth=auth) as client:
        r = client.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query, "time": f"{end:.3f}"})
        r.raise_for_status()
        return {row["metric"].get("site", ""): int(float(row["value"][1])) for row in r.json()["data"]["result"]}
