"""Ratings and attendance in the state database, the issue's two targets:

- a year of a big hall's ratings (340,000) loaded: the summary by window for a month, in ms
  (target < 200 ms); baseline: the same month's rows read and summed in Python;
- an attendance backlog of 100,000 punches, shuffled and uploaded twice, through the attendance
  projection (dedupe, clock-reset check, staged writes, one transaction per 2,000-punch batch like
  the hub's) and then the posts worked out: punches/s (target >= 2,000); baseline: the bare
  INSERT OR IGNORE of the same rows.

In-process, no MQTT: `bench ingest` measures the hub's own rate (MQTT -> outbox) separately.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Options, Row, median
from gateway.config.hall import HallConfig
from gateway.domain.canonical import Event
from gateway.domain.ratings import from_fields, summarize
from gateway.kinds.attendance import AttendanceProjection
from gateway.kinds.rating_pad.store import RatingStore, rating_of
from gateway.kinds.registry import stores
from gateway.store.journal import Journal
from gateway.store.staged import connect

TZ = ZoneInfo("Asia/Shanghai")
NS = 10**9
WINDOWS = 100
YEAR_START = datetime(2025, 12, 1, tzinfo=TZ)


def _ratings(n: int, rng: random.Random) -> list[Any]:
    out = []
    span = 365 * 86400
    for i in range(n):
        t = YEAR_START + timedelta(seconds=rng.randrange(span))
        w = rng.randrange(WINDOWS)
        rated = rng.random() < 0.9
        score = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 4, 2))[0]
        fields = {
            "case_id": f"320111-2026-{i:07d}" if rated else "",
            "window": f"W{w:03d}",
            "staff_id": f"S{w:04d}",
            "item": f"item {rng.randrange(40)}",
            "score": score,
            "reasons": ["slow"] if score <= 2 else [],
            "ticket": f"A{i % 1000:03d}",
        }
        out.append(from_fields(rated, f"rp-{w}", i, int(t.timestamp() * NS), t.date().isoformat(), fields, "windows"))
    return out


def _summary_runs(n: int, runs: int) -> tuple[list[float], list[float]]:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="bench-ratings-") as tmp:
        path = Path(tmp) / "state.sqlite"
        Journal(path, stores=stores()).close()
        conn = connect(path)
        store = RatingStore(conn)
        rs = _ratings(n, rng)
        for i, r in enumerate(rs):
            store.add(r)
            if i % 2000 == 1999:
                store.flush()
        store.flush()
        month = (
            int(datetime(2026, 3, 1, tzinfo=TZ).timestamp()) * NS,
            int(datetime(2026, 4, 1, tzinfo=TZ).timestamp()) * NS,
        )
        sql_ms, py_ms = [], []
        for _ in range(runs):
            t = time.perf_counter()
            groups, _ = store.summary(*month, "window")
            sql_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            rows = conn.execute(
                "SELECT id, key, rated, device, seq, ts_ns, day, case_id, window, staff, item, zone, ticket, score, "
                "reasons FROM ratings WHERE ts_ns >= ? AND ts_ns < ?",
                month,
            ).fetchall()
            py = summarize((rating_of(r) for r in rows), "window")
            py_ms.append((time.perf_counter() - t) * 1000)
            assert {k: f.out() for k, f in py.items()} == {k: f.out() for k, f in groups.items()}
        conn.close()
    return sql_ms, py_ms


def _punch_runs(n: int, runs: int) -> tuple[list[float], list[float]]:
    rng = random.Random(2)
    staff = [f"S{i:04d}" for i in range(400)]
    cfg = HallConfig.model_validate(
        {
            "site": "bench",
            "posts": [{"window": f"W{i:03d}", "a": staff[2 * i], "b": staff[2 * i + 1]} for i in range(200)],
        }
    )
    now = int(time.time() * NS)
    day0 = now - 12 * 3600 * NS
    punches = [
        Event(
            "att-1",
            "punch",
            day0 + rng.randrange(12 * 3600 * NS),
            {"staff_id": rng.choice(staff), "method": "face", "direction": "unknown"},
            seq,
        )
        for seq in range(n)
    ]
    upload = punches * 2
    rng.shuffle(upload)
    rates, bare = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-punches-") as tmp:
            path = Path(tmp) / "state.sqlite"
            journal = Journal(path, stores=stores())
            devices = {"att-1": SimpleNamespace(id="att-1", kind="attendance", config=SimpleNamespace(zone=None))}
            p = AttendanceProjection(cfg, devices)  # type: ignore[arg-type]
            close = p.attach(journal)
            t = time.perf_counter()
            for i in range(0, len(upload), 2000):
                for e in upload[i : i + 2000]:
                    p.apply(e, now)
                p.store.flush()  # type: ignore[union-attr]  # the hub's batch ends
            p._day = None  # the posts from the database, not from the cache
            states = p.post_states(now)
            elapsed = time.perf_counter() - t
            assert len(states) == 200 and p.counts["new"] + p.counts["past"] + p.counts["future"] == n
            rates.append(len(upload) / elapsed)
            close()
            conn = connect(path)
            conn.execute("DELETE FROM punches")
            rows = [(e.device, e.seq, e.ts_ns, "d", e.fields["staff_id"], "face", "unknown", None, now) for e in upload]
            t = time.perf_counter()
            for i in range(0, len(rows), 2000):
                conn.execute("BEGIN")
                conn.executemany("INSERT OR IGNORE INTO punches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[i : i + 2000])
                conn.execute("COMMIT")
            bare.append(len(rows) / (time.perf_counter() - t))
            conn.close()
            journal.close()
    return rates, bare


def run(opts: Options) -> list[Row]:
    n = opts.records or 340_000
    sql_ms, py_ms = _summary_runs(n, max(opts.runs, 3))
    rates, bare = _punch_runs(100_000, opts.runs)
    return [
        Row("ratings", f"summary by window, one month of {n:,} ratings", "ms", median(sql_ms), "rows summed in Python",
            median(py_ms), "< 200 ms", sql_ms, py_ms),
        Row("ratings", "punch backlog 100,000 x2 shuffled -> projection -> posts", "punches/s", median(rates),
            "bare INSERT OR IGNORE", median(bare), ">= 2,000/s", rates, bare),
    ]  # fmt: skip


if __name__ == "__main__":  # python -m bench.ratings [--records N] [--runs R]
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.ratings")
    ap.add_argument("--records", type=int)
    ap.add_argument("--runs", type=int, default=Options.runs)
    args = ap.parse_args()
    for row in run(Options(records=args.records, runs=args.runs)):
        ratio = f"{row.median / row.baseline_median:.2f}" if row.baseline_median else "-"
        print(f"{row.metric}: {row.median:,.1f} {row.unit} (target {row.target}); {row.baseline_name}: "
              f"{row.baseline_median:,.1f}; ratio {ratio}; runs {' '.join(f'{x:,.1f}' for x in row.runs)}")  # fmt: skip
