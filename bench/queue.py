"""The queue (排队叫号), issue 21's numbers: 100,000 visits ingested, the projection's rate, and the
summary of a month.

The visits are the simulator's seeded day model (firmware_sim/kinds/queue_day.py): days of a large
hall (3,000 tickets, 30 windows) from 2026-11-01 until 100,000 tickets were issued (about 4.2
events a visit: calls and recalls, starts, ends, transfers, no-shows).

- projection: the events applied in-process to the queue's projection and its store in batches of
  2,000 (one flush each, as the hub's batch), into a fresh state database: visits/s and events/s.
  Baseline: the store's rows alone, each event's row (its visit as it ends) written with the
  store's `INSERT OR REPLACE`, 2,000 to a transaction.
- ingest: the same events as the queue server's MQTT messages, queued at a real Mosquitto for the
  gateway (`hallgate run`, MQTT 5, InfluxDB 1.6) and drained by it: events/s from its own
  /metrics (committed), until the summary counts every visit. Baseline: a bare paho subscriber
  draining the same messages (bench/mqtt_baseline.py).
- summary: `GET /api/v1/queue/summary` for the month of November (30 days, 90,000 visits) by line
  and by window, timed over HTTP against that gateway (target < 200 ms): the first request of each
  (its days' figures read from the transactions), the next ones, and the first after a restart
  (the days' figures kept in the state database); and in-process, the store's figures for the
  same month beside the way before them (the visits read whole and summed in Python).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Options, Row, median
from firmware_sim.kinds.queue_day import DEFAULT_LINES, DayConfig, default_serves, plan_day
from gateway.domain.canonical import Event
from gateway.domain.queue import summarise
from gateway.kinds.queue import QueueProjection
from gateway.kinds.queue.settings import standalone
from gateway.kinds.registry import stores
from gateway.store.journal import Journal
from gateway.store.staged import connect

TZ = ZoneInfo("Asia/Shanghai")
NS = 10**9
DEVICE = "q-1"
FIRST_DAY = date(2026, 11, 1)
MONTH = ("2026-11-01", "2026-12-01")
TICKETS_A_DAY = 3000
WINDOWS = tuple(f"W{n:02d}" for n in range(1, 31))
BATCH = 2000
DEFAULT_VISITS = 100_000
TOKEN = "bench-queue-manager-token-0123456789"


@dataclass(frozen=True)
class Message:
    seq: int
    ts_ns: int
    payload: dict[str, Any]  # what the queue server publishes (seq, ts, type, ticket, ...)

    def event(self) -> Event:
        fields = {k: v for k, v in self.payload.items() if k not in ("seq", "ts", "type")}
        return Event(DEVICE, self.payload["type"], self.ts_ns, fields, seq=self.seq)


def messages(visits: int) -> Iterator[Message]:
    """The days' events in time order, as the queue server would publish them."""
    seq, day, left = 0, FIRST_DAY, visits
    while left > 0:
        cfg = DayConfig(
            day=day,
            windows=WINDOWS,
            serves=default_serves(WINDOWS, DEFAULT_LINES),
            tickets=min(TICKETS_A_DAY, left),
            seed="bench",
            lunch_windows=frozenset(WINDOWS[::3]),
        )
        midnight = datetime(day.year, day.month, day.day, tzinfo=TZ)
        for e in plan_day(cfg).events:
            at = midnight + timedelta(milliseconds=round(e.t * 1000))
            payload = {"seq": seq, "ts": at.isoformat(timespec="milliseconds"), **e.fields}
            yield Message(seq, int(at.timestamp() * 1000) * 1_000_000, payload)
            seq += 1
        left -= cfg.tickets
        day += timedelta(days=1)


def month_ns() -> tuple[int, int]:
    a, b = (datetime.fromisoformat(d).replace(tzinfo=TZ) for d in MONTH)
    return int(a.timestamp()) * NS, int(b.timestamp()) * NS


def projection(path: Path) -> tuple[QueueProjection, Any, Journal]:
    journal = Journal(path, stores=stores())
    devices = {DEVICE: SimpleNamespace(id=DEVICE, kind="queue")}
    p = QueueProjection(standalone(), devices)  # type: ignore[arg-type]
    return p, p.attach(journal), journal  # type: ignore[arg-type]


def project(events: list[Event], path: Path) -> float:
    """The events through the projection into a fresh state database at `path`: seconds taken."""
    p, close, journal = projection(path)
    assert p.store is not None
    now = time.time_ns()

    async def batches() -> float:
        t = time.perf_counter()
        for i in range(0, len(events), BATCH):
            for e in events[i : i + BATCH]:
                p.apply(e, now)
            await asyncio.sleep(0)  # the loop's next turn: the store flushes the batch (flush_soon)
        return time.perf_counter() - t

    took = asyncio.run(batches())
    assert p.counts["applied"] == len(events), p.counts
    close()
    journal.close()
    return took


def bare_writes(path: Path, n_events: int) -> float:
    """The store's rows alone: as many writes of a visit's final rows (its row, and its transactions
    deleted and inserted again) as there were events, 2,000 to a transaction."""
    conn = connect(path)
    visits = conn.execute("SELECT day, ticket, generation, line, at_ns, ended, body FROM queue_visits").fetchall()
    txs: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in conn.execute("SELECT * FROM queue_transactions"):
        txs.setdefault(row[1:4], []).append(row)
    conn.execute("DELETE FROM queue_visits")
    conn.execute("DELETE FROM queue_transactions")
    writes = [visits[i % len(visits)] for i in range(n_events)]
    t = time.perf_counter()
    for i in range(0, len(writes), BATCH):
        batch = writes[i : i + BATCH]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR REPLACE INTO queue_visits (day, ticket, generation, line, at_ns, ended, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        conn.executemany("DELETE FROM queue_transactions WHERE day = ? AND ticket = ? AND generation = ?",
                         [w[:3] for w in batch])  # fmt: skip
        conn.executemany(f"INSERT OR REPLACE INTO queue_transactions VALUES ({', '.join('?' * 16)})",
                         [tx for w in batch for tx in txs.get(w[:3], ())])  # fmt: skip
        conn.execute("COMMIT")
    took = time.perf_counter() - t
    conn.close()
    return took


def summary_inprocess(path: Path, runs: int) -> dict[str, list[float]]:
    """The month's summary (total and groups) by line and by window from the store, in ms: the
    API's way (`now`; its first call reads the days, the others find them kept) and the way before
    this work (`before`: the visits read whole and summed in Python). Both give the same figures."""
    p, close, journal = projection(path)
    assert p.store is not None
    a, b = month_ns()
    out: dict[str, list[float]] = {}
    for by in ("line", "window"):
        for i in range(runs + 1):
            t = time.perf_counter()
            sql_total = p.store.figures(a, b, None)[None]
            sql = p.store.figures(a, b, by)
            out.setdefault(f"now by {by}, first" if i == 0 else f"now by {by}", []).append(
                (time.perf_counter() - t) * 1000
            )
            if i == 0:
                continue
            t = time.perf_counter()
            visits = [v for _, v in p.visits(a, b)]
            whole = {k: f.out() for k, f in summarise(visits, by, p.hour_of).items()}
            total = sum(f.tickets for f in summarise(visits, "day", p.hour_of).values())
            out.setdefault(f"before by {by}", []).append((time.perf_counter() - t) * 1000)
            assert sql == whole and sql_total["tickets"] == total > 0.85 * len(visits), by
    close()
    journal.close()
    return out


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_VISITS
    t = time.perf_counter()
    msgs = list(messages(n))
    events = [m.event() for m in msgs]
    print(f"  {n:,} visits: {len(events):,} events planned in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    proj_s, bare_s = [], []
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        for r in range(opts.runs):
            path = Path(tmp) / f"state{r}.sqlite"
            proj_s.append(project(events, path))
            if r == opts.runs - 1:
                summary = summary_inprocess(path, 3)
            bare_s.append(bare_writes(path, len(events)))
            print(f"  run {r}: projection {len(events) / proj_s[-1]:,.0f} events/s, bare writes "
                  f"{len(events) / bare_s[-1]:,.0f}/s", file=sys.stderr, flush=True)  # fmt: skip
    print(f"  summary in-process, ms: {json.dumps({k: [round(x) for x in v] for k, v in summary.items()})}",
          file=sys.stderr, flush=True)  # fmt: skip
    from bench.queue_ingest import ingest  # it imports this module's plan

    rates, cpu_us, base_rates, base, http = ingest(msgs, n, opts.runs)
    rows = [
        Row(
            "queue",
            f"projection in-process, {n:,} visits ({len(events):,} events), batches of {BATCH:,}",
            "visits/s",
            median([n / s for s in proj_s]),
            "",
            None,
            "",
            [n / s for s in proj_s],
        ),
        Row(
            "queue",
            "projection in-process, events",
            "events/s",
            median([len(events) / s for s in proj_s]),
            "the store's final rows written bare",
            median([len(events) / s for s in bare_s]),
            "",
            [len(events) / s for s in proj_s],
            [len(events) / s for s in bare_s],
        ),
        Row(
            "queue",
            f"ingest through Mosquitto, {len(events):,} queued QoS 1 events -> gateway",
            "events/s",
            median(rates),
            "bare paho subscriber",
            median(base_rates),
            "",
            rates,
            base_rates,
        ),
        Row(
            "queue",
            "ingest through Mosquitto, visits",
            "visits/s",
            median([r * n / len(events) for r in rates]),
            "",
            None,
            "",
            [r * n / len(events) for r in rates],
        ),
        Row(
            "queue",
            "gateway CPU per event during ingest",
            "us",
            median(cpu_us),
            "bare paho subscriber",
            median([1e4 * b["cpu_pct"] / b["rate"] for b in base]),
            "",
            cpu_us,
            [1e4 * b["cpu_pct"] / b["rate"] for b in base],
        ),
    ]
    for k, v in http.items():
        rows.append(
            Row(
                "queue",
                f"GET /api/v1/queue/summary, a month (30 days, {min(n, 30 * TICKETS_A_DAY):,} visits), {k}",
                "ms",
                median(v),
                "",
                None,
                "< 200 ms",
                v,
            )
        )
    for by in ("line", "window"):
        for k in (f"now by {by}, first", f"now by {by}"):
            before = summary[f"before by {by}"]
            rows.append(
                Row(
                    "queue",
                    f"summary of the month in-process, {k}",
                    "ms",
                    median(summary[k]),
                    "before: the visits read whole and summed",
                    median(before),
                    "< 200 ms",
                    summary[k],
                    before,
                )
            )
    return rows  # fmt: skip
