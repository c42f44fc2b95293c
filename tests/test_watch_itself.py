"""The gateway watches itself: supervised tasks come back, and a full disk is one clear problem
in /readyz that clears when space returns, with nothing acknowledged lost. Real Mosquitto,
InfluxDB, and a real full file system (a small tmpfs)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

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


def test_full_disk_is_reported_and_nothing_acknowledged_is_lost(
    small_disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path
) -> None:
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: disk
api: {{port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {small_disk}/outbox.sqlite, state_path: {tmp_path}/state.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influxdb.url}", database: hallgate}}
devices: [{{id: rp-w07, kind: rating_pad, profile: ref-rating-pad, window: W07}}]
""")
    asyncio.run(_full_disk(hall, small_disk, mosquitto, influxdb))


async def _full_disk(hall: Path, disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    cfg = load_config(hall)
    n = 3000
    async with start_gateway(cfg), httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
        await until(lambda: _ready(http), what="ready")
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
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
