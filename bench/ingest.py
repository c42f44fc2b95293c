"""End to end: N QoS 1 rating-pad events -> Mosquitto -> gateway subprocess -> outbox -> InfluxDB 1.6.

So that the publisher is not the bottleneck, the N messages are queued at the broker first:
the gateway (`python -m gateway.cli run`, MQTT 5, influx v1) is started once so that its
persistent session and subscription exist, stopped with SIGTERM, the N messages are published
(and PUBACKed), and the gateway is started again and timed while it drains its queue.

Figures, per run, from the gateway's own /metrics (scraped every 50 ms until the first message
arrived, then every 100 ms):
  (a) ingest msg/s: `hallgate_hub_messages_total{outcome="events"}` (committed to the outbox, then acked)
      from the first scrape that saw a message to the scrape that saw N;
  (b) end-to-end msg/s: `hallgate_sink_delivered_records_total` (InfluxDB answered 204) over the same
      start; afterwards InfluxDB must hold exactly N points (COUNT(seq) of rating_pad_event);
  gateway CPU % (psutil cpu_times delta / wall over window (a)), peak RSS (sampled every 50 ms
  over the whole timed start), and startup (process start -> first message seen), which is
  excluded from both rates.
Baseline, same run, same broker, same N pre-queued messages (published once to both sessions):
bench/mqtt_baseline.py, a bare paho subscriber in its own process (loop_forever, QoS 1, auto ack,
json.loads only), timed from its first to its last message. Gateway and baseline alternate
which drains first. Medians over the runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.common import Options, PeakRSS, Row, median, servers
from tests.load import Publisher
from tests.servers import GatewayProcess, InfluxDB, Mosquitto

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENT = "rating_pad_event"
RECEIVE_MAXIMUM = 2000  # the gateway's default (config Broker.receive_maximum); the baseline asks for the same
DEFAULT_RECORDS = 100_000
# BENCH_PROFILE=FILE: the gateway runs under cProfile and writes its profile there (the last run's)
PROFILE = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []


@dataclass
class GatewayRun:
    startup_s: float  # process start -> first scrape that saw a message
    ingest_rate: float  # (a)
    e2e_rate: float  # (b)
    ingest_s: float
    e2e_s: float
    cpu_pct: float  # over window (a)
    cpu_pct_e2e: float  # over window (b)
    peak_rss_mib: float
    influx_count: int


def _scrape(http: httpx.Client, url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in http.get(url, timeout=5).text.splitlines():
        if line.startswith(
            (
                "hallgate_hub_messages_total{",
                "hallgate_sink_delivered_records_total ",
                "hallgate_mqtt_received_messages_total ",
            )
        ):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Gateway(GatewayProcess):
    """The gateway under test, with the timed start that the benchmark measures."""

    def spawn(self) -> subprocess.Popen[bytes]:
        if not PROFILE:
            return super().spawn()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *PROFILE, "-m", "gateway.cli", "run", "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    def timed_drain(
        self, n: int, influx: InfluxDB, db: str, timeout: float, influx_total: int | None = None
    ) -> GatewayRun:
        """`n` queued messages drained; InfluxDB then holds `influx_total` points (default `n`)."""
        expect = n if influx_total is None else influx_total
        t0 = time.perf_counter()
        proc = self.spawn()
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + timeout
        first: tuple[float, float, float, float] | None = None  # t, events, delivered, cpu
        t_a = cpu_a = t_b = cpu_b = None
        with PeakRSS(proc.pid) as rss, httpx.Client() as http:
            while t_b is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gateway: not done after {timeout} s: {self.log.read_text()[-2000:]}")
                self.check_alive()
                time.sleep(0.05 if first is None else 0.1)
                try:
                    m = _scrape(http, f"{self.api_url}/metrics")
                except httpx.HTTPError:
                    continue  # not listening yet
                t, c = time.perf_counter(), ps.cpu_times()
                cpu = c.user + c.system
                events = m.get('hallgate_hub_messages_total{outcome="events"}', 0.0)
                delivered = m.get("hallgate_sink_delivered_records_total", 0.0)
                if first is None:
                    if events == 0:
                        continue
                    first = (t, events, delivered, cpu)
                    continue
                if t_a is None and events >= n:
                    t_a, cpu_a = t, cpu
                    if events > n:
                        raise AssertionError(f"gateway counted {events:.0f} events, expected {n}")
                if t_a is not None and delivered >= n:
                    t_b, cpu_b = t, cpu
        assert first is not None and t_a is not None and cpu_a is not None and cpu_b is not None
        t1, events1, delivered1, cpu1 = first
        count = influx.wait_count(db, MEASUREMENT, expect, timeout=60)
        self.stop()
        if count != expect:
            raise AssertionError(f"InfluxDB holds {count} {MEASUREMENT} points, expected exactly {expect}")
        return GatewayRun(
            startup_s=t1 - t0,
            ingest_rate=(n - events1) / (t_a - t1),
            e2e_rate=(n - delivered1) / (t_b - t1),
            ingest_s=t_a - t1,
            e2e_s=t_b - t1,
            cpu_pct=100 * (cpu_a - cpu1) / (t_a - t1),
            cpu_pct_e2e=100 * (cpu_b - cpu1) / (t_b - t1),
            peak_rss_mib=rss.peak / 2**20,
            influx_count=count,
        )


def _baseline(cmd: str, port: int, client_id: str, topic: str = "#", count: int = 0, timeout: float = 60) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.mqtt_baseline",
            cmd,
            "--port",
            str(port),
            "--client-id",
            client_id,
            "--topic",
            topic,
            "--count",
            str(count),
            "--receive-maximum",
            str(RECEIVE_MAXIMUM),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(out.stdout) if cmd == "drain" else {}


def _prepublish(broker: Mosquitto, topic: str, n: int, client_id: str) -> float:
    t = time.perf_counter()
    pub = Publisher(broker.host, broker.port, topic, n, client_id=client_id).start()
    try:
        pub.wait_acked(n, timeout=60 + n / 500)
    finally:
        pub.close()
    return time.perf_counter() - t


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_RECORDS
    timeout = 120 + n / 500
    runs: list[GatewayRun] = []
    base: list[dict] = []
    with servers("bench-ingest-") as (root, broker, influx):
        gw: Gateway | None = None
        try:
            for r in range(opts.runs):
                site, db, base_id = f"bench{r}", f"ingest{r}", f"bench-baseline-{r}"
                folder = root / f"run{r}"
                folder.mkdir()
                influx.create_database(db)
                gw = Gateway(folder, broker, influx, site=site, database=db)
                # 1. Persistent sessions + subscriptions at the broker, then both subscribers away.
                gw.start()
                time.sleep(0.5)  # SUBACK well past
                gw.stop()
                _baseline("setup", broker.port, base_id, topic=gw.topic)
                # 2. N messages queued for both sessions (one publish reaches both).
                pub_s = _prepublish(broker, gw.topic, n, f"bench-pub-{r}")
                print(
                    f"  run {r}: {n} messages queued in {pub_s:.1f} s ({n / pub_s:,.0f} msg/s published)",
                    file=sys.stderr,
                    flush=True,
                )
                # 3. Drain both, alternating which goes first.
                order = ["gateway", "baseline"] if r % 2 == 0 else ["baseline", "gateway"]
                for who in order:
                    if who == "gateway":
                        g = gw.timed_drain(n, influx, db, timeout)
                        runs.append(g)
                        print(
                            f"  run {r} gateway : startup {g.startup_s:.2f} s, (a) ingest {g.ingest_rate:,.0f} msg/s "
                            f"in {g.ingest_s:.2f} s, (b) into InfluxDB {g.e2e_rate:,.0f} msg/s in {g.e2e_s:.2f} s, "
                            f"CPU {g.cpu_pct:.0f} % (a) / {g.cpu_pct_e2e:.0f} % (b), peak RSS "
                            f"{g.peak_rss_mib:.0f} MiB, InfluxDB COUNT(seq) {g.influx_count}",
                            file=sys.stderr,
                            flush=True,
                        )
                    else:
                        b = _baseline("drain", broker.port, base_id, count=n, timeout=timeout)
                        if b["received"] != n or b["bad_json"]:
                            raise AssertionError(f"baseline: {b}")
                        base.append(b)
                        print(
                            f"  run {r} baseline: startup {b['startup_s']:.2f} s, {b['rate']:,.0f} msg/s in "
                            f"{b['wall_s']:.2f} s, CPU {b['cpu_pct']:.0f} %, peak RSS {b['peak_rss_mib']:.0f} MiB",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            if gw is not None:
                gw.stop()
    ingest = [g.ingest_rate for g in runs]
    e2e = [g.e2e_rate for g in runs]
    b_rate = [b["rate"] for b in base]
    b_cpu = [b["cpu_pct"] for b in base]
    rows = [
        Row(
            "ingest",
            f"(a) ingest msg/s, {n} pre-queued QoS 1 -> outbox + ack",
            "msg/s",
            median(ingest),
            "bare paho subscriber",
            median(b_rate),
            "ratio >= 0.60",
            ingest,
            b_rate,
        ),
        Row(
            "ingest",
            f"(b) end to end msg/s, {n} -> InfluxDB 1.6",
            "msg/s",
            median(e2e),
            "bare paho subscriber",
            median(b_rate),
            "",
            e2e,
            b_rate,
        ),
        Row(
            "ingest",
            "gateway CPU % during (a) (100 = one core)",
            "%",
            median([g.cpu_pct for g in runs]),
            "bare paho subscriber CPU %",
            median(b_cpu),
            "",
            [g.cpu_pct for g in runs],
            b_cpu,
        ),
        Row(
            "ingest",
            "gateway CPU per message during (a) (robust where the machine is shared)",
            "us",
            median([1e4 * g.cpu_pct / g.ingest_rate for g in runs]),
            "bare paho subscriber, per message",
            median([1e4 * b["cpu_pct"] / b["rate"] for b in base]),
            "",
            [1e4 * g.cpu_pct / g.ingest_rate for g in runs],
            [1e4 * b["cpu_pct"] / b["rate"] for b in base],
        ),
        Row(
            "ingest",
            "gateway CPU % during (b)",
            "%",
            median([g.cpu_pct_e2e for g in runs]),
            "",
            None,
            "",
            [g.cpu_pct_e2e for g in runs],
        ),
        Row(
            "ingest",
            f"gateway peak RSS draining {n}",
            "MiB",
            median([g.peak_rss_mib for g in runs]),
            "bare paho subscriber",
            median([b["peak_rss_mib"] for b in base]),
            "",
            [g.peak_rss_mib for g in runs],
            [b["peak_rss_mib"] for b in base],
        ),
        Row(
            "ingest",
            "gateway startup to first message (excluded)",
            "s",
            median([g.startup_s for g in runs]),
            "bare paho subscriber",
            median([b["startup_s"] for b in base]),
            "",
            [g.startup_s for g in runs],
            [b["startup_s"] for b in base],
        ),
    ]
    return rows
