"""Siblings of the alert log spam (issue 19): a long outage is two log lines (it started, it
ended with the count), not one per retry. The drain against a real InfluxDB 1.6 that is away
(nothing listens on its port) for 20 attempts, then there."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.store.drain import DrainStats, drain
from gateway.store.outbox import Outbox
from gateway.store.sinks import InfluxV1Sink
from tests.servers import InfluxDB, free_port
from tests.test_store_drain import rec
from tests.waits import until

ATTEMPTS = 20


def test_a_sink_outage_logs_when_it_starts_and_when_it_ends(
    influxdb: InfluxDB, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(1)])
    sink = InfluxV1Sink(f"http://127.0.0.1:{free_port()}", "hall")  # nothing listens there
    stats = DrainStats()
    caplog.set_level(logging.DEBUG, logger="gateway.store.drain")

    async def go() -> None:
        stop = asyncio.Event()
        tries = 0

        async def sleep(_: float) -> None:
            nonlocal tries
            tries += 1
            if tries == ATTEMPTS:
                sink.url = influxdb.url  # the sink is back

        task = asyncio.create_task(drain(box, sink, stop=stop, stats=stats, sleep=sleep, rng=lambda: 0.0))
        await until(lambda: box.depth_records == 0, what="the record delivered once the sink is back")
        stop.set()
        await task
        await sink.close()

    asyncio.run(go())
    mine = [r for r in caplog.records if r.name == "gateway.store.drain"]
    assert stats.errors_by_type["SinkRetry"] == ATTEMPTS
    assert [r.levelno for r in mine if "retrying" in r.getMessage()] == [logging.WARNING] + [logging.DEBUG] * (
        ATTEMPTS - 1
    )
    assert [r.getMessage() for r in mine if r.levelno >= logging.INFO] == [
        next(r.getMessage() for r in mine if "retrying" in r.getMessage()),
        f"sink influxdb-v1: writing again after {ATTEMPTS} failed attempts",
    ]
    box.close()
