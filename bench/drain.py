"""Fill an outbox with N realistic records, then drain it into a real InfluxDB 1.6.

Figures: drained points/s (target >= 20,000), peak RSS while N records are buffered and drained
(target < 150 MB at 1,000,000), time to fill. Baseline: the same lines posted straight from
memory to the same InfluxDB with the same sink and batch size (the sink's ceiling).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import Options, PeakRSS, Row, hall_lines, median
from gateway.domain.canonical import Priority
from gateway.store.drain import drain
from gateway.store.outbox import Outbox
from gateway.store.sinks import InfluxV1Sink
from tests.servers import InfluxDB

APPEND_BATCH = 500


async def _drain_all(box: Outbox, url: str, db: str, batch_size: int) -> float:
    sink = InfluxV1Sink(url, db, timeout_s=60)
    stop = asyncio.Event()
    t = time.perf_counter()
    task = asyncio.create_task(drain(box, sink, batch_size=batch_size, stop=stop))
    while box.depth_records:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t
    stop.set()
    await task
    await sink.close()
    return elapsed


async def _post_all(lines: list[str], url: str, db: str, batch_size: int) -> float:
    sink = InfluxV1Sink(url, db, timeout_s=60)
    await sink.write(lines[:1])  # creates the database outside the timing, as the drain run does
    t = time.perf_counter()
    for i in range(0, len(lines), batch_size):
        await sink.write(lines[i : i + batch_size])
    elapsed = time.perf_counter() - t
    await sink.close()
    return elapsed


def run(opts: Options) -> list[Row]:
    n = opts.records or 1_000_000
    rates, peaks, fills, base_rates = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        folder = Path(tmp) / "influxdb"
        folder.mkdir()
        server = InfluxDB(folder)
        server.start()
        try:
            # Outbox runs first, so the peak RSS is not inflated by the baseline's in-memory lines.
            for r in range(opts.runs):
                path = Path(tmp) / f"outbox-{r}.db"
                with PeakRSS() as rss:
                    box = Outbox(path, max_bytes=1 << 40)
                    t = time.perf_counter()
                    chunk: list[tuple[Priority, str]] = []
                    for p, line in hall_lines(n):
                        chunk.append((Priority(p), line))
                        if len(chunk) == APPEND_BATCH:
                            box.append(chunk)
                            chunk = []
                    if chunk:
                        box.append(chunk)
                    fills.append(time.perf_counter() - t)
                    assert box.depth_records == n
                    elapsed = asyncio.run(_drain_all(box, server.url, f"drain{r}", opts.batch_size))
                    box.close()
                rates.append(n / elapsed)
                peaks.append(rss.peak / 2**20)
                stored = sum(server.count(f"drain{r}", m, "*") for m in _measurements())
                if stored != n:
                    raise AssertionError(f"run {r}: InfluxDB holds {stored} points, expected {n}")
                path.unlink()
            lines = [line for _, line in hall_lines(n)]
            for r in range(opts.runs):
                base_rates.append(n / asyncio.run(_post_all(lines, server.url, f"direct{r}", opts.batch_size)))
        finally:
            server.stop()
    return [
        Row(
            "drain",
            f"drain points/s ({n} records, batch {opts.batch_size})",
            "points/s",
            median(rates),
            "post from memory",
            median(base_rates),
            ">= 20000",
            rates,
            base_rates,
        ),
        Row("drain", f"peak RSS, {n} buffered + drained", "MiB", median(peaks), "", None, "< 150", peaks),
        Row("drain", f"time to fill {n} records ({APPEND_BATCH}/txn, FULL)", "s", median(fills), "", None, "", fills),
    ]


def _measurements() -> list[str]:
    return ["people_counter", "heartbeat", "rating_pad_event"]
