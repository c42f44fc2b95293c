"""The drain against a real InfluxDB 1.6: outages, rejects, 413 splits, auth, wake-up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drivers.backoff import full_jitter
from gateway.domain.canonical import Event, Priority
from gateway.store.drain import DrainStats, drain
from gateway.store.errors import SinkAuth, SinkReject, SinkRetry, SinkTooLarge, classify_status
from gateway.store.outbox import Outbox
from gateway.store.points import to_line
from gateway.store.sinks import InfluxV1Sink
from tests.servers import InfluxDB, free_port
from tests.waits import until

T0 = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000


def rec(i: int, measurement_kind: str = "rating_pad", **fields) -> tuple[Priority, str]:
    ev = Event(f"pad-{i % 7}", "rated", T0 + i * 1_000, fields or {"score": 1 + i % 5}, seq=i)
    return ev.priority, to_line(ev, "hall-a", measurement_kind)


def influx_with(tmp_path: Path, extra_http: str) -> InfluxDB:
    folder = tmp_path / "influx-custom"
    folder.mkdir()
    server = InfluxDB(folder)
    server.conf.write_text(server.conf.read_text().replace("[http]\n", f"[http]\n  {extra_http}\n"))
    server.start()
    return server


def test_outage_under_load_delivers_every_record_exactly_once(influxdb: InfluxDB, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(influxdb.url, "hall")
    stats = DrainStats()

    async def go() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(drain(box, sink, batch_size=500, max_wait_s=0.1, stop=stop, stats=stats))
        n = 0
        start = time.monotonic()
        stopped = restarted = False
        while time.monotonic() - start < 3.0:
            box.append([rec(n + j) for j in range(40)])
            n += 40
            t = time.monotonic() - start
            if t > 0.5 and not stopped:
                await asyncio.to_thread(influxdb.stop)
                stopped = True
            if t > 1.8 and not restarted:
                await asyncio.to_thread(influxdb.start)
                restarted = True
            await asyncio.sleep(0.02)
        await until(lambda: box.depth_records == 0, timeout=30)
        stop.set()
        await task
        await sink.close()
        return n

    n = asyncio.run(go())
    assert stats.errors_by_type["SinkRetry"] >= 1
    assert influxdb.count("hall", "rating_pad_event", "seq") == n
    assert box.stats().delivered_total == n and stats.delivered_total == n
    box.close()


def test_bad_lines_are_dropped_and_counted_and_later_batches_go_through(influxdb: InfluxDB, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(influxdb.url, "hall")
    stats = DrainStats()

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(drain(box, sink, batch_size=5000, max_wait_s=0.05, stop=stop, stats=stats))
        box.append([rec(i) for i in range(100)])  # score is an integer field from now on
        await until(lambda: box.depth_records == 0)
        # InfluxDB "partial write": it stores the good lines and says how many it refused.
        good = [rec(i) for i in range(100, 120)]
        box.append([*good[:10], rec(120, score="five"), *good[10:]])
        await until(lambda: box.depth_records == 0)
        box.append([rec(i) for i in range(121, 126)] + [(Priority.EVENT, "not line protocol")])
        await until(lambda: box.depth_records == 0)
        box.append([rec(i) for i in range(300, 400)])
        await until(lambda: box.depth_records == 0)
        stop.set()
        await task
        await sink.close()

    asyncio.run(go())
    assert influxdb.count("hall", "rating_pad_event", "seq") == 225
    assert stats.rejected_total == 2 and box.stats().rejected_total == 2
    assert stats.errors_by_type["SinkReject"] == 2
    assert box.stats().delivered_total == 225
    box.close()


def test_a_whole_batch_reject_is_bisected_to_the_bad_line(influxdb: InfluxDB, tmp_path: Path) -> None:
    # A float/string conflict in the first write to a new database: InfluxDB 1.6 stores nothing
    # and says only "field type conflict" (no "partial write"); bisection finds the bad line.
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(influxdb.url, "fresh")
    stats = DrainStats()
    box.append([rec(i, "lockbox", score=1.5) for i in range(15)] + [rec(15, "lockbox", score="x")])

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(drain(box, sink, stop=stop, stats=stats))
        await until(lambda: box.depth_records == 0)
        stop.set()
        await task
        await sink.close()

    asyncio.run(go())
    assert influxdb.count("fresh", "lockbox_event", "seq") == 15
    assert stats.rejected_total == 1 and stats.splits_total >= 1
    box.close()


def test_413_splits_the_batch(tmp_path: Path) -> None:
    server = influx_with(tmp_path, "max-body-size = 20000")
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(server.url, "hall")
    stats = DrainStats()
    box.append([rec(i) for i in range(1000)])

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(drain(box, sink, batch_size=1000, stop=stop, stats=stats))
        await until(lambda: box.depth_records == 0)
        stop.set()
        await task
        await sink.close()

    try:
        asyncio.run(go())
        assert server.count("hall", "rating_pad_event", "seq") == 1000
    finally:
        server.stop()
    assert stats.errors_by_type["SinkTooLarge"] >= 1 and stats.splits_total >= 3
    assert stats.rejected_total == 0
    box.close()


def test_wrong_credentials_keep_the_batch(tmp_path: Path) -> None:
    server = influx_with(tmp_path, "auth-enabled = true")
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(server.url, "hall", username="nobody", password="wrong")
    stats = DrainStats()
    box.append([rec(i) for i in range(10)])
    delays: list[float] = []

    async def go() -> None:
        stop = asyncio.Event()

        async def sleep(s: float) -> None:
            delays.append(s)
            stop.set()

        await drain(box, sink, stop=stop, stats=stats, sleep=sleep)
        await sink.close()

    try:
        asyncio.run(go())
    finally:
        server.stop()
    assert stats.errors_by_type["SinkAuth"] == 1 and not stats.healthy and stats.connected
    assert delays == [60.0]
    assert box.depth_records == 10
    box.close()


def test_backoff_is_exponential_capped_and_reset(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(1)])
    sink = InfluxV1Sink(f"http://127.0.0.1:{free_port()}", "hall")
    delays: list[float] = []
    stats = DrainStats()

    async def go() -> None:
        stop = asyncio.Event()

        async def sleep(s: float) -> None:
            delays.append(s)
            if len(delays) == 9:
                stop.set()

        await drain(box, sink, stop=stop, stats=stats, sleep=sleep, rng=lambda: 1.0)
        await sink.close()

    asyncio.run(go())
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert stats.errors_by_type["SinkRetry"] == 9 and not stats.connected and "ConnectError" in stats.last_error
    assert box.depth_records == 1
    assert full_jitter(3, lambda: 0.5) == 2.0
    box.close()


def test_a_lone_record_after_a_quiet_spell_goes_out_at_once(influxdb: InfluxDB, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    sink = InfluxV1Sink(influxdb.url, "hall")
    stats = DrainStats()

    now = [0.0]  # the drain's clock, moved by hand: the quiet spell takes no time

    async def go() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(drain(box, sink, max_wait_s=5.0, stop=stop, stats=stats, clock=lambda: now[0]))
        box.append([rec(1)])
        await until(lambda: box.depth_records == 0, what="the first record sent")
        now[0] += 5.0  # nothing sent for max_wait_s: the next record has nothing to wait for
        t = time.monotonic()
        box.append([rec(2)])
        await until(lambda: box.depth_records == 0, what="the lone record sent")
        elapsed = time.monotonic() - t
        stop.set()
        await task
        await sink.close()
        return elapsed

    assert asyncio.run(go()) < 1.0
    assert stats.healthy and stats.delivered_total == 2 and stats.batches_total == 2
    box.close()


@pytest.mark.parametrize(
    ("status", "text", "retry_after", "kind"),
    [
        (400, "unable to parse 'x': missing fields", None, SinkReject),
        (422, "unprocessable", None, SinkReject),
        (401, "authorization failed", None, SinkAuth),
        (403, "forbidden", None, SinkAuth),
        (413, "too large", None, SinkTooLarge),
        (429, "slow down", "7", SinkRetry),
        (503, "unavailable", None, SinkRetry),
        (404, 'database not found: "x"', None, SinkRetry),
    ],
)
def test_status_translation(status: int, text: str, retry_after: str | None, kind: type) -> None:
    err = classify_status(status, text, retry_after)
    assert type(err) is kind
    if retry_after:
        assert err.retry_after == 7.0


def test_partial_write_counts_the_refused_lines() -> None:
    msg = "partial write: unable to parse 'a': x\nunable to parse 'b': y dropped=3"
    err = classify_status(400, msg, None)
    assert isinstance(err, SinkReject) and err.partial and err.rejected == 5
