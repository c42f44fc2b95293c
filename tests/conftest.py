from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.servers import InfluxDB, Mosquitto, VictoriaMetrics

S = TypeVar("S", Mosquitto, InfluxDB, VictoriaMetrics)


def _serve(server_class: type[S], folder: Path) -> Iterator[S]:
    """A real server in its own folder, for one test; a missing binary fails the test."""
    folder.mkdir()
    server = server_class(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from _serve(Mosquitto, tmp_path / "mosquitto")


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    yield from _serve(InfluxDB, tmp_path / "influxdb")


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    yield from _serve(VictoriaMetrics, tmp_path / "victoria-metrics")
