"""The gateway watches itself: supervised tasks come back, and a full disk is one clear problem
in /readyz that clears when space returns, with nothing acknowledged lost. Real Mosquitto,
InfluxDB, and a real full file system (a small tmpfs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.backoff import full_jitter
from gateway import supervisor
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from gateway.supervisor import Supervisor
from tests.load import Publisher
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.waits import until


def test_a_failing_part_is_restarted_with_backoff_and_reported_down_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the supervisor knows when it picks each backoff delay (the part has failed and is not
    # restarted yet): the attempt it backs off for, and what it reports down.
    backoffs: list[tuple[int, list[str], str | None, float]] = []

    def jitter(attempt: int, base: float, cap: float) -> float:
        delay = full_jitter(attempt, lambda: 1.0, base=base, cap=cap)  # the longest it may wait
        backoffs.append((attempt, [p.name for p in sup.down()], sup.parts["drain"].last_error, delay))
        return delay

    monkeypatch.setattr(supervisor, "full_jitter", jitter)
    sup = Supervisor(backoff_base_s=0.05, backoff_cap_s=0.15)

    async def run() -> None:
        runs = 0
        gate = asyncio.Event()

        async def flaky() -> None:
            nonlocal runs
            runs += 1
            if runs <= 2:
                raise OSError(f"disk full ({runs})")
            await gate.wait()

        sup.spawn("drain", flaky)
        await until(lambda: sup.parts["drain"].restarts == 2 and sup.parts["drain"].up, what="two restarts")
        part = sup.parts["drain"]
        assert (runs, part.last_error) == (3, "OSError: disk full (2)")
        assert sup.down() == []
        assert backoffs == [
            (1, ["drain"], "OSError: disk full (1)", 0.1),
            (2, ["drain"], "OSError: disk full (2)", 0.15),  # doubled, up to the cap
        ]
        await sup.aclose()

    asyncio.run(run())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "small-disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _disk_hall(tmp_path: Path, small_disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Path:
    """A hall of one rating pad whose outbox is on the small disk (its state database is not)."""
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: disk
api: {{port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {small_disk}/outbox.sqlite, state_path: {tmp_path}/state.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influxdb.url}", database: hallgate}}
devices: [{{id: rp-w07, kind: rating_pad, profile: ref-rating-pad, window: W07}}]
""")
    return hall


def test_full_disk_is_reported_and_nothing_acknowledged_is_lost(
    small_disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path
) -> None:
    hall = _disk_hall(tmp_path, small_disk, mosquitto, influxdb)
    asyncio.run(_full_disk(hall, small_disk, mosquitto, influxdb))


async def _full_disk(hall: Path, disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    cfg = load_config(hall)
    n = 3000
    async with start_gateway(cfg), httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
        await until(lambda: _ready(http), what="ready")
        filler = _fill(disk)
        publisher = Publisher(mosquitto.host, mosquitto.port, "hall/disk/rating/rp-w07/event", n).start()
        try:
            body = await until(lambda: _not_ready(http), timeout=30, what="/readyz naming the full disk")
            assert any("outbox cannot store records" in p and "full" in p for p in body["problems"]), body
            filler.unlink()
            await asyncio.to_thread(publisher.wait_acked, n, 60)
        finally:
            publisher.close()
        got = await asyncio.to_thread(influxdb.wait_count, "hallgate", "rating_pad_event", n, "seq", 60)
        assert got == n
        await until(lambda: _ready(http), what="ready again")


LONG_BACKOFF_S = 120.0


def test_the_outbox_takes_batches_again_soon_after_space_returns_not_after_the_backoff(
    small_disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused batch makes the link reconnect after a backoff (up to 30 s, here pinned at 120 s):
    the outbox's probe ends that wait once space is back, so what was refused is stored and
    acknowledged within seconds, far inside the backoff."""
    monkeypatch.setattr("drivers.mqtt.link.full_jitter", lambda *_: LONG_BACKOFF_S)
    hall = _disk_hall(tmp_path, small_disk, mosquitto, influxdb)
    asyncio.run(_space_returns(hall, small_disk, mosquitto))


async def _space_returns(hall: Path, disk: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(hall)
    n = 500
    async with start_gateway(cfg), httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
        await until(lambda: _ready(http), what="ready")
        filler = _fill(disk)
        publisher = Publisher(mosquitto.host, mosquitto.port, "hall/disk/rating/rp-w07/event", n).start()
        try:
            await until(lambda: _not_ready(http), timeout=30, what="/readyz naming the full disk")
            filler.unlink()
            freed = time.monotonic()
            await asyncio.to_thread(publisher.wait_acked, n, LONG_BACKOFF_S / 2)
            await until(lambda: _ready(http), timeout=LONG_BACKOFF_S / 2, what="ready again")
            took = time.monotonic() - freed
        finally:
            publisher.close()
        assert took < LONG_BACKOFF_S / 2, took


def _fill(disk: Path) -> Path:
    """Fill the file system until a write fails; delete the file returned to give the space back."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200


async def _not_ready(http: httpx.AsyncClient) -> dict | None:
    r = await http.get("/readyz")
    return r.json() if r.status_code == 503 else None


def test_a_part_that_swallows_its_cancellation_still_stops() -> None:
    async def run() -> None:
        sup = Supervisor()
        swallowed = 0

        async def stubborn() -> None:
            nonlocal swallowed
            while True:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    swallowed += 1
                    if swallowed > 1:
                        raise

        sup.spawn("stubborn", stubborn)
        await asyncio.sleep(0)
        await asyncio.wait_for(sup.aclose(), 5)
        assert swallowed == 2

    asyncio.run(run())


def test_a_full_state_database_is_not_ready_logged_once_and_back_within_a_second(
    small_disk: Path, mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The state database (ratings, work orders, health history) on a real full file system: /readyz
    says so (503, a machine code and a Chinese message), the log has one line when it starts and
    one when it ends (not a traceback per attempt), and /readyz is 200 again soon after space
    returns (the design retries every half second; the deadline is generous to a loaded machine)."""
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: full
api: {{port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite, state_path: {small_disk}/state.sqlite}}
devices: [{{id: rp-w07, kind: rating_pad, profile: ref-rating-pad, window: W07}}]
""")
    caplog.set_level(logging.INFO)
    asyncio.run(_full_state(hall, small_disk, mosquitto, caplog))


async def _full_state(hall: Path, disk: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_config(hall)
    n = 4000
    async with start_gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
        await until(lambda: _ready(http), what="ready")
        filler = _fill(disk)
        caplog.clear()
        publisher = Publisher(mosquitto.host, mosquitto.port, "hall/full/rating/rp-w07/event", n).start()
        try:
            body = await until(lambda: _not_ready(http), timeout=30, what="/readyz naming the full state database")
            state = body["detail"]["state"]
            assert state["code"] == "state_db_unwritable" and "状态数据库无法写入" in state["message"], body
            assert any("state database" in p and "cannot be written" in p for p in body["problems"]), body
            # Writes keep failing while the disk stays full (ratings arriving, the retry every
            # second): none of them may add a line to the log.
            assert "hallgate_state_db_writable 0.0" in (await http.get("/metrics")).text
            failures = state["failures"]
            await until(lambda: _failures_beyond(http, failures + 10), timeout=30, what="more failed writes")
            # (each 差评 among the ratings opens an alert: their lines are the hall's, not the outage's)
            down = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "gateway.alerts.engine"]
            filler.unlink()
            freed = time.monotonic()
            await until(lambda: _ready(http), timeout=10, what="ready again after space returned")
            back_s = time.monotonic() - freed
            assert "hallgate_state_db_writable 1.0" in (await http.get("/metrics")).text
            await asyncio.to_thread(publisher.wait_acked, n, 60)
        finally:
            publisher.close()
        # What waited in memory while the disk was full is written: every rating is counted once.
        ratings = next(p for p in gw.hub.projections if p.name == "ratings").store  # type: ignore[attr-defined]
        await until(lambda: _counted(ratings) == n, timeout=30, what=f"{n} ratings counted")
        # The alerts their 差评 opened while the disk was full are in the state database too.
        opened = {a.id for a in gw.view.alerts.active()}
        assert opened, "no 差评 alert opened"
        assert {row[0] for row in gw.view.journal.alert_rows(active=True, limit=10 * n)} == opened
    tracebacks = [r for r in down if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    state_lines = [r.getMessage() for r in down if "state database" in r.getMessage()]
    assert len(state_lines) == 1, state_lines
    assert len(down) <= 3, [r.getMessage() for r in down]
    again = [r.getMessage() for r in caplog.records if "written again, after" in r.getMessage()]
    assert len(again) == 1 and "failed writes" in again[0], again
    print(f"state database full: ready again {back_s:.2f} s after space returned; {again[0]}")


def _counted(ratings: Any) -> int:
    figures, _ = ratings.summary(0, 2**62, None)
    return sum(f.rated for f in figures.values())


async def _failures_beyond(http: httpx.AsyncClient, n: int) -> bool:
    r = await http.get("/readyz")
    state = r.json()["detail"].get("state") or {}
    return r.status_code == 503 and state.get("failures", 0) >= n
