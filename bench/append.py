"""Append throughput of the outbox, 500 records per transaction: synchronous=FULL (the default:
an acknowledged record survives a power cut) against NORMAL (survives a crash of the process
only) as the baseline."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Options, Row, hall_lines, median
from gateway.domain.canonical import Priority
from gateway.store.outbox import Outbox

BATCH = 500


def _once(lines: list[tuple[Priority, str]], synchronous: str) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-append-") as tmp:
        box = Outbox(Path(tmp) / "o.db", max_bytes=1 << 40, synchronous=synchronous)
        t = time.perf_counter()
        for i in range(0, len(lines), BATCH):
            box.append(lines[i : i + BATCH])
        elapsed = time.perf_counter() - t
        box.close()
    return len(lines) / elapsed


def run(opts: Options) -> list[Row]:
    n = min(opts.records or 200_000, 200_000)
    lines = [(Priority(p), line) for p, line in hall_lines(n)]
    full, normal = [], []
    for _ in range(opts.runs):
        # Interleaved so that both see the same noise.
        full.append(_once(lines, "FULL"))
        normal.append(_once(lines, "NORMAL"))
    return [
        Row(
            "append",
            f"append records/s, FULL, {BATCH}/txn ({n} records)",
            "rec/s",
            median(full),
            "NORMAL",
            median(normal),
            runs=full,
            baseline_runs=normal,
        ),
    ]
