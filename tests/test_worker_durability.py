"""Worker mode (ingest.workers: 2) loses nothing at start, nor when a worker or the gateway is SIGKILLed.

Ready means every worker's subscriptions are acknowledged by the broker: a message published the
moment /readyz first says 200 is routed to a worker's session. Every event a worker acknowledged
reaches the gateway's ratings records exactly once, whoever was killed: the records are built
from the worker's forward table (gateway/store/forwarded.py), which is replayed until the
gateway acknowledges it. Real Mosquitto, InfluxDB and processes; real SIGKILLs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.load import Publisher
from tests.servers import GatewayProcess, InfluxDB, Mosquitto
from tests.waits import wait_for

TOKEN = "worker-durability-test-token-0123456789"


@pytest.fixture
def gateway(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GatewayProcess]:
    monkeypatch.setenv("HG_TEST_TOKEN", TOKEN)  # the gateway process inherits it
    gw = GatewayProcess(tmp_path, mosquitto, influxdb, workers=2)
    text = gw.config.read_text()
    api = f"api: {{port: {gw.api_port}}}"
    assert api in text
    tokens = "tokens: [{role: viewer, env: HG_TEST_TOKEN}]"
    gw.config.write_text(text.replace(api, f"api: {{port: {gw.api_port}, {tokens}}}"))
    yield gw
    gw.stop()


def _readyz(gw: GatewayProcess) -> httpx.Response:
    return httpx.get(f"{gw.api_url}/readyz")


def _rated(gw: GatewayProcess) -> int:
    """The ratings records' count, as the API's summary gives it (the load's events are in November 2026)."""
    r = httpx.get(
        f"{gw.api_url}/api/v1/ratings/summary",
        params={"start": "2026-11-01", "end": "2026-12-01"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 200, r.text
    return int(r.json()["total"]["rated"])


def _publish(mosquitto: Mosquitto, gw: GatewayProcess, n: int, first: int = 0, client_id: str = "pub") -> None:
    pub = Publisher(mosquitto.host, mosquitto.port, gw.topic, n, client_id=client_id, first=first).start()
    try:
        pub.wait_acked(n, timeout=120)
    finally:
        pub.close()


def _settled(gw: GatewayProcess, influxdb: InfluxDB, n: int) -> tuple[int, int]:
    """(InfluxDB's count, the records' count) once both hold n, or what they hold at the deadline."""
    stored = influxdb.wait_count("hallgate", "rating_pad_event", n, timeout=30)
    with contextlib.suppress(TimeoutError):  # the caller's assertion says how many
        wait_for(lambda: _rated(gw) >= n, timeout=15, what=f"{n} ratings recorded")
    return stored, _rated(gw)


def _workers(gw: GatewayProcess) -> dict[str, Any]:
    return _readyz(gw).json()["detail"].get("workers", {})


def test_messages_published_the_moment_workers_are_ready_are_all_stored(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    """The first start: no worker session exists at the broker yet, so nothing is queued for one
    until its SUBSCRIBE is acknowledged; /readyz says 200 only after that, for both workers."""
    gateway.start()  # returns at the first 200 from /readyz
    _publish(mosquitto, gateway, 400)
    assert _settled(gateway, influxdb, 400) == (400, 400)
    assert all(w["mqtt"]["subscribed"] for w in _workers(gateway).values())


def test_a_killed_worker_makes_the_gateway_not_ready_until_it_is_back(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gateway.start()
    _publish(mosquitto, gateway, 1_000)
    victim = _workers(gateway)["1"]["pid"]
    # Stopped first: the broker deals its share of these to a worker that takes none, and it is
    # killed with them unacknowledged (its session keeps them).
    os.kill(victim, signal.SIGSTOP)
    _publish(mosquitto, gateway, 1_000, first=1_000, client_id="pub-while-stopped")
    os.kill(victim, signal.SIGKILL)
    # From the moment the gateway sees its socket close until the new worker reports its SUBACK
    # (a process start and an MQTT connection later), /readyz says 503 and names it.
    down = wait_for(
        lambda: (
            (r := _readyz(gateway)).status_code == 503
            and any("ingest worker 1" in p for p in r.json()["problems"])
            and r
        ),
        timeout=30,
        what="503 naming ingest worker 1",
    )
    assert not any("ingest worker 2" in p for p in down.json()["problems"]), down.json()
    _publish(mosquitto, gateway, 1_000, first=2_000, client_id="pub-while-down")  # while it may still be down
    wait_for(lambda: _readyz(gateway).status_code == 200, timeout=60, what="ready again")
    assert _workers(gateway)["1"]["pid"] != victim
    # Published while worker 1 was stopped, dead or coming back: its session kept its share.
    assert _settled(gateway, influxdb, 3_000) == (3_000, 3_000)


def test_the_gateway_sigkilled_under_load_keeps_every_acknowledged_rating_in_its_records(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    n = 10_000
    gateway.start()
    assert gateway.proc is not None
    pub = Publisher(mosquitto.host, mosquitto.port, gateway.topic, n).start()
    try:
        pub.wait_acked(n // 3, timeout=60)
        # Stopped, the gateway reads nothing more while the workers go on committing and
        # acknowledging: what they acknowledge now is, for sure, in flight when it is killed.
        os.kill(gateway.proc.pid, signal.SIGSTOP)
        pub.wait_acked(n // 3 + 1_000, timeout=60)
        gateway.kill()  # the gateway only: its workers see their socket close and stop
        gateway.start()
        pub.wait_acked(n, timeout=120)
    finally:
        pub.close()
    # n distinct ratings acknowledged by the workers: each in InfluxDB and in the records, once.
    assert _settled(gateway, influxdb, n) == (n, n)
    gateway.stop()
    with sqlite3.connect(gateway.config.parent / "state.sqlite") as db:
        keys = db.execute("SELECT count(*), count(DISTINCT key) FROM ratings").fetchone()
    assert keys == (n, n)


def test_a_hung_worker_makes_the_gateway_not_ready_until_it_reports_again(gateway: GatewayProcess) -> None:
    """SIGSTOP: the process lives and holds its socket, but takes nothing; the gateway notices its
    silence (it reports every second) and says so until it reports again."""
    gateway.start()
    victim = _workers(gateway)["1"]["pid"]
    os.kill(victim, signal.SIGSTOP)
    try:
        hung = wait_for(
            lambda: (r := _readyz(gateway)).status_code == 503 and r.json()["problems"],
            timeout=60,
            what="503 while worker 1 is stopped",
        )
    finally:
        os.kill(victim, signal.SIGCONT)
    assert any(p.startswith(f"ingest worker 1 (pid {victim}) has not reported for") for p in hung), hung
    wait_for(lambda: _readyz(gateway).status_code == 200, timeout=30, what="ready again")
    assert _workers(gateway)["1"]["pid"] == victim  # the same process, not a restart
