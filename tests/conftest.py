from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import InfluxDB, Mosquitto, VictoriaMetrics


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    broker = Mosquitto(folder)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    folder = tmp_path / "influxdb"
    folder.mkdir()
    server = InfluxDB(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    folder = tmp_path / "victoria-metrics"
    folder.mkdir()
    server = VictoriaMetrics(folder)
    server.start()
    yield server
    server.stop()
