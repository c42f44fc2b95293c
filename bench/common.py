"""Shared pieces: result rows, medians, peak RSS sampling, realistic lines."""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import psutil

from gateway.domain.canonical import Event
from gateway.store.points import to_line
from tests.servers import InfluxDB, Mosquitto


@dataclass
class Options:
    records: int | None = None  # None: each benchmark's own default size
    runs: int = 3
    batch_size: int = 5000
    minutes: float = 60.0  # bench soak: how long
    rate: float = 1450.0  # bench soak: msg/s
    mix: str = "ratings"  # bench soak: ratings (distinct case ids) | mixed (heartbeats and events)
    hall: str = "pads"  # bench soak: pads (8 rating pads) | demo (configs/demo-hall.yaml, no Modbus)


@dataclass
class Row:
    benchmark: str
    metric: str
    unit: str
    median: float
    baseline_name: str
    baseline_median: float | None
    target: str = ""
    runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        benchmark: str,
        metric: str,
        unit: str,
        runs: list[float],
        baseline_name: str = "",
        baseline_runs: list[float] | None = None,
        target: str = "",
    ) -> Row:
        """A row from the runs' figures: the medians are taken here."""
        base = baseline_runs or []
        return cls(
            benchmark, metric, unit, median(runs), baseline_name, median(base) if base else None, target, runs, base
        )

    @property
    def ratio(self) -> float | None:
        if not self.baseline_median:
            return None
        return self.median / self.baseline_median

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


@contextlib.contextmanager
def servers(prefix: str) -> Iterator[tuple[Path, Mosquitto, InfluxDB]]:
    """A temporary folder with a Mosquitto and an InfluxDB 1.6 running in it, for the block."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        (root / "mosquitto").mkdir()
        (root / "influxdb").mkdir()
        broker, influx = Mosquitto(root / "mosquitto"), InfluxDB(root / "influxdb")
        broker.start()
        try:
            influx.start()
            try:
                yield root, broker, influx
            finally:
                influx.stop()
        finally:
            broker.stop()


class PacedTraffic(threading.Thread):
    """`rate` msg/s from `client` (connected, its loop started) until `close`, on time however late a
    tick is; `message(i)` makes the i-th: (topic, payload, qos)."""

    def __init__(self, client: paho.Client, rate: float) -> None:
        super().__init__(daemon=True)
        self.client, self.rate = client, rate
        self.sent = 0
        self.stop_flag = threading.Event()

    def message(self, i: int) -> tuple[str, bytes | str, int]:
        raise NotImplementedError

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop_flag.is_set():
            due = int((time.perf_counter() - start) * self.rate) + 1
            while self.sent < due:
                topic, payload, qos = self.message(self.sent)
                self.client.publish(topic, payload, qos=qos)
                self.sent += 1
            time.sleep(0.002)

    def close(self) -> None:
        self.stop_flag.set()
        self.join()
        self.client.disconnect()
        self.client.loop_stop()


def median(values: list[float]) -> float:
    return statistics.median(values)


class PeakRSS:
    """Samples a process's RSS in a thread (ru_maxrss would also count earlier phases).

    `pid` None: this process. Sampling ends quietly when the process does.
    """

    def __init__(self, pid: int | None = None, interval_s: float = 0.05) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval_s,), daemon=True)

    def _sample(self) -> bool:
        try:
            self.peak = max(self.peak, self._proc.memory_info().rss)
        except psutil.Error:
            return False
        return True

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set() and self._sample():
            self._stop.wait(interval_s)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def hall_lines(n: int, seed: int = 1) -> Iterator[tuple[int, str]]:
    """(priority, line) like a large hall: 60 % counter readings, 30 % heartbeats, 10 % ratings."""
    rnd = random.Random(seed)
    t0 = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000
    for i in range(n):
        ts = t0 + i * 1_000_000  # 1 ms apart: a million points span about 17 minutes
        r = rnd.random()
        if r < 0.6:
            dev = f"pc-{i % 20:02d}"
            ev = Event(dev, "reading", ts, {"in_total": 10_000 + i, "out_total": 9_000 + i, "occupancy": i % 300})
            kind = "people_counter"
        elif r < 0.9:
            dev = f"pad-{i % 400:03d}"
            ev = Event(dev, "heartbeat", ts, {"uptime_s": i, "rssi": -40 - rnd.random() * 40, "battery": 87})
            kind = "rating_pad"
        else:
            dev = f"pad-{i % 400:03d}"
            ev = Event(dev, "rated", ts, {"score": rnd.randint(1, 5), "window": f"W{i % 60:02d}"}, seq=i)
            kind = "rating_pad"
        yield int(ev.priority), to_line(ev, "city-centre", kind)
