"""Secrets never reach stats (/readyz reads them) or logs: redaction, and the v1 sink's credentials
taken out of its URL, against a real InfluxDB 1.6 with authentication on."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from gateway.domain.canonical import Event
from gateway.redact import redact, redact_url
from gateway.store.drain import DrainStats, drain
from gateway.store.outbox import Outbox
from gateway.store.points import to_line
from gateway.store.sinks import InfluxV1Sink, split_credentials
from tests.servers import InfluxDB, free_port

PASSWORD = "Hunter2-s3cr3t"  # distinctive, so a leak anywhere is found by substring
ADMIN = ("admin", "admin-pw-0k")
T0 = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:Hunter2@10.0.0.5:8086", "http://admin:***@10.0.0.5:8086"),
        ("https://10.0.0.5:8086/?u=admin&p=Hunter2&db=x", "https://10.0.0.5:8086/?u=***&p=***&db=x"),
        ("http://h:8086/write?db=x&token=abc&precision=ns", "http://h:8086/write?db=x&token=***&precision=ns"),
        ("http://127.0.0.1:8086", "http://127.0.0.1:8086"),
        ("http://user@h:8086", "http://user@h:8086"),  # a user name alone is not a secret
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_known_secrets_and_patterns() -> None:
    odd = "pa ss/w@rd"  # changes when URL-quoted
    text = (
        f"ConnectError for http://admin:{PASSWORD}@h:1/write?db=x&p={PASSWORD}; "
        f"headers {{'Authorization': 'Basic YWRtaW46cHc='}}; quoted pa%20ss%2Fw%40rd, pa+ss%2Fw%40rd, raw {odd}"
    )
    out = redact(text, [PASSWORD, odd, None, ""])
    for leak in (PASSWORD, "YWRtaW46cHc=", "ss%2Fw", "ss/w"):
        assert leak not in out
    assert out.startswith("ConnectError for http://admin:***@h:1/write?db=x&p=***")


def test_split_credentials_moves_them_out_of_the_url() -> None:
    assert split_credentials(f"http://admin:{PASSWORD}@h:8086/") == ("http://h:8086", {}, "admin", PASSWORD)
    assert split_credentials(f"http://h:8086?u=admin&p={PASSWORD}&rp=x") == (
        "http://h:8086",
        {"rp": "x"},
        "admin",
        PASSWORD,
    )


def _records(n: int) -> list:
    out = []
    for i in range(n):
        ev = Event(f"pad-{i}", "rated", T0 + i * 1000, {"score": 1 + i % 5}, seq=i)
        out.append((ev.priority, to_line(ev, "hall-a", "rating_pad")))
    return out


async def _drain_until(box: Outbox, sink: InfluxV1Sink, stats: DrainStats, done) -> None:
    """Run the drain until `done(stats)`; backoff waits stop it instead of sleeping."""
    stop = asyncio.Event()

    async def no_wait(_s: float) -> None:
        stop.set()

    task = asyncio.create_task(drain(box, sink, batch_size=100, max_wait_s=0.01, stop=stop, stats=stats, sleep=no_wait))
    deadline = time.monotonic() + 15
    while not done(stats) and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.02)
    stop.set()
    await task
    await sink.close()


def _assert_clean(stats: DrainStats, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    shown = f"{stats.last_error} {dict(stats.errors_by_type)} " + "\n".join(r.getMessage() for r in caplog.records)
    for s in secrets:
        assert s not in shown


@pytest.fixture
def influx_auth(tmp_path: Path):
    folder = tmp_path / "influx-auth"
    folder.mkdir()
    server = InfluxDB(folder, admin=ADMIN)
    server.start()
    server.create_database("hall")
    yield server
    server.stop()


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_wrong_password_in_url_never_shown(
    influx_auth: InfluxDB, tmp_path: Path, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO
    caplog.set_level(logging.DEBUG, logger="httpx")  # whatever an in-process `hallgate` command set it to
    host = influx_auth.url.removeprefix("http://")
    url = f"http://admin:{PASSWORD}@{host}" if form == "userinfo" else f"{influx_auth.url}/?u=admin&p={PASSWORD}"
    box = Outbox(tmp_path / "o.db")
    box.append(_records(10))
    stats = DrainStats()
    asyncio.run(_drain_until(box, InfluxV1Sink(url, "hall"), stats, lambda s: s.last_error is not None))
    assert stats.errors_by_type["SinkAuth"] >= 1, stats
    assert "authorization failed" in (stats.last_error or "")
    assert box.depth_records == 10  # wrong credentials keep the data
    _assert_clean(stats, caplog, PASSWORD)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log the URL...
    assert not any("p=" in r.getMessage() for r in caplog.records)  # ...without the credentials
    box.close()


def test_right_password_in_url_is_used(influx_auth: InfluxDB, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user, password = ADMIN
    url = f"http://{user}:{password}@{influx_auth.url.removeprefix('http://')}"
    box = Outbox(tmp_path / "o.db")
    box.append(_records(10))
    stats = DrainStats()
    asyncio.run(_drain_until(box, InfluxV1Sink(url, "hall"), stats, lambda s: s.delivered_total == 10))
    assert stats.delivered_total == 10 and stats.last_error is None
    assert influx_auth.count("hall", "rating_pad_event", "seq") == 10
    _assert_clean(stats, caplog, password)
    box.close()


def test_unreachable_sink_with_credentials_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://admin:{PASSWORD}@127.0.0.1:{free_port()}/?p={PASSWORD}"
    box = Outbox(tmp_path / "o.db")
    box.append(_records(3))
    stats = DrainStats()
    asyncio.run(_drain_until(box, InfluxV1Sink(url, "hall"), stats, lambda s: s.last_error is not None))
    assert stats.errors_by_type["SinkRetry"] >= 1
    assert "127.0.0.1" in (stats.last_error or "")  # still says where it failed
    _assert_clean(stats, caplog, PASSWORD)
    box.close()
