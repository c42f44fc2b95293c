"""One suite, every sink (Telegraf's buffer_suite_test.go idea): InfluxDB 1.6 via the v1 sink,
VictoriaMetrics via the v2 sink. Real servers, no mocks."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.domain.canonical import Event
from gateway.store.errors import SinkRetry
from gateway.store.points import to_line
from gateway.store.sinks import InfluxV1Sink, InfluxV2Sink, Sink, tls_verify
from tests.servers import InfluxDB, VictoriaMetrics, free_port


@dataclass
class Target:
    make_sink: Callable[[], Sink]
    count: Callable[[str, str], int]  # (measurement, numeric field) -> points stored
    dead_sink: Callable[[], Sink]  # a sink pointed at a port nobody listens on


@pytest.fixture(params=["v1-influxdb", "v2-victoria-metrics"])
def target(request, tmp_path: Path) -> Iterator[Target]:
    if request.param == "v1-influxdb":
        folder = tmp_path / "influxdb"
        folder.mkdir()
        server = InfluxDB(folder)
        server.start()
        # The database does not exist yet: the sink creates it.
        yield Target(
            make_sink=lambda: InfluxV1Sink(server.url, "hall"),
            count=lambda m, f: server.count("hall", m, f),
            dead_sink=lambda: InfluxV1Sink(f"http://127.0.0.1:{free_port()}", "hall"),
        )
    else:
        folder = tmp_path / "vm"
        folder.mkdir()
        server = VictoriaMetrics(folder)
        server.start()
        yield Target(
            make_sink=lambda: InfluxV2Sink(server.url, "org", "hall", "token"),
            count=server.count,
            dead_sink=lambda: InfluxV2Sink(f"http://127.0.0.1:{free_port()}", "org", "hall", "token"),
        )
    server.stop()


def lines(n: int, start: int = 0, device: str = "pad-1") -> list[str]:
    # Distinct milliseconds so VictoriaMetrics (ms precision) keeps every point too.
    t0 = (time.time_ns() // 1_000_000_000 - 60) * 1_000_000_000
    return [
        to_line(
            Event(device, "rated", t0 + i * 1_000_000, {"score": 1 + i % 5, "who": '王 "x"'}, seq=i),
            "hall-a",
            "rating_pad",
        )
        for i in range(start, start + n)
    ]


def run(coro):
    return asyncio.run(coro)


def test_write_then_count(target: Target) -> None:
    async def go() -> None:
        sink = target.make_sink()
        await sink.write(lines(1000))
        await sink.write([])
        await sink.close()

    run(go())
    assert target.count("rating_pad_event", "seq") == 1000


def test_redelivery_does_not_duplicate(target: Target) -> None:
    batch = lines(300)

    async def go() -> None:
        sink = target.make_sink()
        for _ in range(3):
            await sink.write(batch)
        await sink.write(batch[100:200])
        await sink.close()

    run(go())
    assert target.count("rating_pad_event", "seq") == 300


def test_unreachable_server_is_a_retry(target: Target) -> None:
    async def go() -> None:
        sink = target.dead_sink()
        try:
            with pytest.raises(SinkRetry):
                await sink.write(lines(1))
        finally:
            await sink.close()

    run(go())


def test_an_http_sink_loads_no_certificate_store_and_an_https_one_verifies() -> None:
    """httpx loads certifi's store (1.2 MiB resident) for every client that verifies."""
    assert tls_verify("http://127.0.0.1:8086", True) is False
    assert tls_verify("HTTP://influx.local:8086/", True) is False
    assert tls_verify("https://influx.local:8086", True) is True
    own = ssl.create_default_context()
    assert tls_verify("https://influx.local:8086", own) is own  # a district's own TLS settings stay
