"""Nothing acknowledged is lost: the gateway SIGKILLed, Mosquitto restarted, InfluxDB stopped, under load."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.load import Publisher
from tests.servers import InfluxDB, Mosquitto, free_port

TOPIC = "hall/dur/rating/rp-1/event"
N = 20_000


class GatewayProcess:
    def __init__(self, tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB) -> None:
        self.api_port = free_port()
        self.config = tmp_path / "hall.yaml"
        self.config.write_text(f"""
site: dur
api: {{port: {self.api_port}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}, protocol: 5}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influx.url}", database: hallgate}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W07}}
""")
        self.log = tmp_path / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.api_port}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"gateway not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@pytest.fixture
def gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path, mosquitto, influxdb)
    gw.start()
    yield gw
    gw.stop()


def wait_count(influx: InfluxDB, n: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        got = influx.count("hallgate", "rating_pad_event", "seq")
        if got >= n:
            break
        time.sleep(0.25)
    return got


def load_with_fault(mosquitto: Mosquitto, fault: Callable[[], None]) -> None:
    """Publish N QoS 1 messages; once a quarter are acknowledged, do `fault`; wait for every PUBACK."""
    pub = Publisher(mosquitto.host, mosquitto.port, TOPIC, N).start()
    try:
        pub.wait_acked(N // 4, timeout=60)
        fault()
        pub.wait_acked(N, timeout=120)
    finally:
        pub.close()


def test_gateway_sigkill_under_load_loses_nothing(gateway: GatewayProcess, mosquitto: Mosquitto,
                                                   influxdb: InfluxDB) -> None:
    def kill_and_restart() -> None:
        gateway.kill()
        gateway.start()

    load_with_fault(mosquitto, kill_and_restart)
    assert wait_count(influxdb, N) == N  # every acknowledged message, each exactly once


def test_mosquitto_restart_under_load_loses_nothing(gateway: GatewayProcess, mosquitto: Mosquitto,
                                                    influxdb: InfluxDB) -> None:
    load_with_fault(mosquitto, mosquitto.restart)
    assert wait_count(influxdb, N) == N


def test_influxdb_outage_under_load_loses_nothing(gateway: GatewayProcess, mosquitto: Mosquitto,
                                                  influxdb: InfluxDB) -> None:
    load_with_fault(mosquitto, influxdb.stop)
    deadline = time.monotonic() + 15
    while (during := _readyz(gateway)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    influxdb.start()
    assert wait_count(influxdb, N) == N
    assert during.status_code == 503, during.json()
    assert any(p.startswith("store ") for p in during.json()["problems"])


def _readyz(gw: GatewayProcess) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{gw.api_port}/readyz")


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
