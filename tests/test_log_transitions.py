"""Siblings of the alert log spam (issue 19): a long outage is two log lines (it started, it
ended with the count), not one per retry. The drain against a real InfluxDB 1.6 that is away
(nothing listens on its port) for 20 attempts, then there; the alert delivery against a real
HTTP receiver that is away, then there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import httpx
import pytest

from gateway.alerts.delivery import TargetStats, deliver, webhook_sender
from gateway.store.drain import DrainStats, drain
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox
from gateway.store.sinks import InfluxV1Sink
from tests.servers import InfluxDB, free_port
from tests.test_alerts import Receiver
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


def test_a_failing_webhook_logs_when_it_starts_and_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The receiver is away (connection refused) for 3 attempts or more, then there."""
    journal = Journal(tmp_path / "state.sqlite")
    journal.queue_delivery("webhook", '{"type": "change"}')
    receiver = Receiver(free_port())
    stats = TargetStats()
    caplog.set_level(logging.DEBUG, logger="gateway.alerts.delivery")

    async def go() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            send = webhook_sender(client, f"http://127.0.0.1:{receiver.port}/hook", None)
            task = asyncio.create_task(deliver("webhook", journal, send, asyncio.Event(), stats, idle_s=0.1))
            await until(lambda: stats.failures >= 3, what="three failed attempts")
            receiver.start()
            await until(lambda: stats.delivered == 1, what="delivered once the receiver is back")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        asyncio.run(go())
    finally:
        receiver.stop()
        journal.close()
    mine = [r for r in caplog.records if r.name == "gateway.alerts.delivery"]
    failed = [r.levelno for r in mine if "failed (" in r.getMessage()]
    assert failed == [logging.WARNING] + [logging.DEBUG] * (stats.failures - 1)
    assert [r.getMessage() for r in mine if r.levelno >= logging.INFO][1:] == [
        f"delivery to webhook goes again after {stats.failures} failed attempts"
    ]
    assert len(receiver.posts) == 1
