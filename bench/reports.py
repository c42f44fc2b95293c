"""Operations reports (issue 24's number): a month's report of a large hall renders in < 5 s.

The hall: the queue benchmark's visits (bench/queue.py: 30 windows, 3,000 tickets a day from
2026-11-01 until 100,000 visits, about 90,000 of them in November) through the queue's projection
into a fresh state database, and a rating for four in five of the served visits (naming its case,
a minute after its finish; 差评 among them, with work orders left to the projection's rules: none
here, the store is written directly). Timed in-process: the November report built (the figures
for the hall, each window, each member of staff, the previous month and November a year before,
and 一月一评比), then written as JSON and XLSX.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Options, Row
from bench.queue import DEVICE, WINDOWS, messages, project, projection
from gateway.config.hall import HallConfig
from gateway.domain.periods import parse
from gateway.domain.ratings import from_fields
from gateway.features.reports.build import build
from gateway.features.reports.gather import Sources
from gateway.features.reports.render import as_json
from gateway.features.reports.xlsx import workbook
from gateway.kinds.rating_pad import RatingsProjection

TZ = ZoneInfo("Asia/Shanghai")
NS = 10**9
DEFAULT_VISITS = 100_000


def _ratings(msgs: list[Any]) -> list[Any]:
    rng = random.Random(24)
    out = []
    for m in msgs:
        p = m.payload
        if p["type"] != "finished" or p.get("result") != "done" or rng.random() >= 0.8:
            continue
        ts = m.ts_ns + 60 * NS
        score = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 4, 2))[0]
        fields = {
            "case_id": p.get("case_id", ""), "window": p["window"], "staff_id": p.get("staff_id", ""),
            "item": "", "score": score, "reasons": ["slow"] if score <= 2 else [], "ticket": p["ticket"],
        }  # fmt: skip
        day = datetime.fromtimestamp(ts / NS, TZ).date().isoformat()
        out.append(from_fields(True, f"rp-{p['window']}", len(out), ts, day, fields, "hall"))
    return out


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_VISITS
    msgs = list(messages(n))
    cfg = HallConfig(site="bench", name="基准大厅", timezone="Asia/Shanghai")
    build_s, write_s = [], []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        path = Path(tmp) / "state.sqlite"
        project([m.event() for m in msgs], path)
        calls, close, journal = projection(path)
        pads = {
            f"rp-{w}": SimpleNamespace(id=f"rp-{w}", kind="rating_pad", config=SimpleNamespace(zone="hall", window=w))
            for w in WINDOWS
        }
        ratings = RatingsProjection(cfg, pads)  # type: ignore[arg-type]
        close_ratings = ratings.attach(journal)
        assert ratings.store is not None
        rs = _ratings(msgs)
        for i in range(0, len(rs), 2000):
            ratings.store.add_many(rs[i : i + 2000])
            ratings.store.flush()
        print(f"  {n:,} visits ({DEVICE}), {len(rs):,} ratings stored", file=sys.stderr, flush=True)
        src = Sources(calls=calls, ratings=ratings, visits=calls, clocking=None, violations=journal.repos.violations)
        month = parse("month", "2026-11")
        now = int(datetime(2026, 12, 7, 8, tzinfo=TZ).timestamp()) * NS
        for r in range(max(opts.runs, 3)):
            t = time.perf_counter()
            report = build(cfg, src, month, now, "bench")
            build_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            size = len(as_json(report)) + len(workbook(report))
            write_s.append(time.perf_counter() - t)
            print(f"  run {r}: built {build_s[-1]:.2f} s, written {write_s[-1]:.2f} s ({size:,} B)", file=sys.stderr)
        close_ratings()
        close()
        journal.close()
    total = [b + w for b, w in zip(build_s, write_s, strict=True)]
    return [
        Row.of("reports", f"the month's report, {n:,} visits on 30 windows: built and written", "s", total,
               target="< 5 s"),
        Row.of("reports", "  of which the figures built", "s", build_s),
        Row.of("reports", "  of which JSON and XLSX written", "s", write_s),
    ]  # fmt: skip
