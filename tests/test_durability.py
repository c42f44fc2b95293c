"""Nothing acknowledged is lost: the gateway SIGKILLed, Mosquitto restarted, InfluxDB stopped, under load."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.load import Publisher
from tests.servers import GatewayProcess, InfluxDB, Mosquitto

N = 20_000


@pytest.fixture
def gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path, mosquitto, influxdb)
    gw.start()
    yield gw
    gw.stop()


def load_with_fault(gateway: GatewayProcess, mosquitto: Mosquitto, fault: Callable[[], None]) -> None:
    """Publish N QoS 1 messages; once a quarter are acknowledged, do `fault`; wait for every PUBACK."""
    pub = Publisher(mosquitto.host, mosquitto.port, gateway.topic, N).start()
    try:
        pub.wait_acked(N // 4, timeout=60)
        fault()
        pub.wait_acked(N, timeout=120)
    finally:
        pub.close()


def test_gateway_sigkill_under_load_loses_nothing(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    def kill_and_restart() -> None:
        gateway.kill()
        gateway.start()

    load_with_fault(gateway, mosquitto, kill_and_restart)
    assert influxdb.wait_count("hallgate", "rating_pad_event", N) == N  # every acknowledged message, each exactly once


def test_mosquitto_restart_under_load_loses_nothing(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    load_with_fault(gateway, mosquitto, mosquitto.restart)
    assert influxdb.wait_count("hallgate", "rating_pad_event", N) == N


def test_influxdb_outage_under_load_loses_nothing(
    gateway: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    load_with_fault(gateway, mosquitto, influxdb.stop)
    deadline = time.monotonic() + 15
    while (during := _readyz(gateway)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    influxdb.start()
    assert influxdb.wait_count("hallgate", "rating_pad_event", N) == N
    assert during.status_code == 503, during.json()
    assert any(p.startswith("store ") for p in during.json()["problems"])


def _readyz(gw: GatewayProcess) -> httpx.Response:
    return httpx.get(f"{gw.api_url}/readyz")


def test_readyz_names_the_broker_while_it_is_down_and_recovers(gateway: GatewayProcess, mosquitto: Mosquitto) -> None:
    mosquitto.stop()
    deadline = time.monotonic() + 10
    while (r := _readyz(gateway)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 503
    assert any(p.startswith(f"broker 127.0.0.1:{mosquitto.port} not connected") for p in r.json()["problems"])
    mosquitto.start()
    deadline = time.monotonic() + 45  # reconnect backoff is capped at 30 s
    while (r := _readyz(gateway)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert r.status_code == 200, r.json()
