"""Ingest across processes: two workers on an MQTT shared subscription, one SIGKILLed mid-run.

Each worker commits its share to its own outbox before acknowledging it; a killed worker's
unacknowledged messages (and those the broker queued for its session while it was down) come
again when the gateway has started it anew. InfluxDB must hold every message exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.load import Publisher
from tests.servers import GatewayProcess, InfluxDB, Mosquitto
from tests.waits import wait_for

N = 20_000


@pytest.fixture
def gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path, mosquitto, influxdb, workers=2)
    gw.start()
    yield gw
    gw.stop()


def _workers(gw: GatewayProcess) -> dict[str, Any]:
    return httpx.get(f"{gw.api_url}/readyz").json()["detail"].get("workers", {})


def _connected(gw: GatewayProcess) -> bool:
    w = _workers(gw)
    return len(w) == 2 and all(s and s["mqtt"]["connected"] for s in w.values())


def test_a_worker_sigkilled_under_load_loses_nothing(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    wait_for(lambda: _connected(gateway), timeout=30, what="both ingest workers connected")
    victim = _workers(gateway)["1"]["pid"]
    pub = Publisher(mosquitto.host, mosquitto.port, gateway.topic, N).start()
    try:
        pub.wait_acked(N // 4, timeout=60)
        os.kill(victim, signal.SIGKILL)
        pub.wait_acked(N, timeout=120)
    finally:
        pub.close()
    assert influxdb.wait_count("hallgate", "rating_pad_event", N) == N  # each exactly once
    wait_for(lambda: _connected(gateway) and _workers(gateway)["1"]["pid"] != victim, timeout=30, what="worker 1 back")
    part = httpx.get(f"{gateway.api_url}/readyz").json()["detail"]["parts"]["ingest worker 1"]
    assert part["restarts"] == 1 and "status -9" in part["last_error"], part
    took = {i: s["mqtt"]["messages_in"] for i, s in _workers(gateway).items()}
    assert took["2"] > 0, took  # the second worker took a share
    # The one view of the hall saw every event from both workers, and says so in promtool-clean metrics.
    metrics = httpx.get(f"{gateway.api_url}/metrics").text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package prometheus (.ci/setup does)"
    check = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    forwarded = [_sample(metrics, f'hallgate_ingest_worker_forwarded_events_total{{worker="{i}"}}') for i in "12"]
    assert sum(forwarded) >= N and all(forwarded), forwarded  # redelivered ones may come twice
    assert _sample(metrics, 'hallgate_device_messages_total{device="rp-1"}') >= N


def _sample(text: str, name: str) -> float:
    return float(next(line for line in text.splitlines() if line.startswith(name + " ")).rpartition(" ")[2])


def test_fewer_workers_retire_the_sessions_left_over(
    tmp_path: Path, gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    """Messages published while the gateway is down are queued for both worker sessions; started
    with one worker (the gateway alone), it still takes them all and then retires both sessions."""
    wait_for(lambda: _connected(gateway), timeout=30, what="both ingest workers connected")
    gateway.stop()
    pub = Publisher(mosquitto.host, mosquitto.port, gateway.topic, 2_000, client_id="while-down").start()
    try:
        pub.wait_acked(2_000, timeout=60)
    finally:
        pub.close()
    gateway.config.write_text(gateway.config.read_text().replace("workers: 2", "workers: 1"))
    gateway.start()
    assert influxdb.wait_count("hallgate", "rating_pad_event", 2_000) == 2_000
    wait_for(
        lambda: (
            "ingest worker session 2 retired" in gateway.log.read_text()
            and "ingest worker session 1 retired" in gateway.log.read_text()
        ),
        timeout=30,
        what="both worker sessions retired",
    )


def test_workers_end_when_the_gateway_is_killed(gateway: GatewayProcess) -> None:
    """No orphans: a worker whose gateway died (SIGKILL, nothing cleaned up) sees its socket close
    and stops."""
    wait_for(lambda: _connected(gateway), timeout=30, what="both ingest workers connected")
    assert gateway.proc is not None
    workers = psutil.Process(gateway.proc.pid).children()
    assert len(workers) == 2
    gateway.kill()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], alive
