"""CPU per message at a paced rate against CPU per message at saturation, in the same run.

A hall's traffic is steady, not a backlog: a gateway that is cheap per message only when messages
arrive by the thousand (one commit and one wake-up for a large batch) is not cheap in the hall.
Per run, on one Mosquitto and one InfluxDB 1.6 (the gateway as `hallgate run`, one rating pad,
QoS 1, MQTT 5, the same rating events as `bench ingest`):

  paced: a publisher in this process sends RATE msg/s for PACED_S seconds; the gateway's CPU
         (psutil, user + system) over the middle of it, from one scrape of its /metrics to the
         next, divided by the events it committed in between (`hallgate_hub_messages_total
         {outcome="events"}`): CPU per message, drain into InfluxDB included. Then, with the
         gateway stopped, a bare paho subscriber (bench/mqtt_baseline.py: own process, QoS 1,
         json.loads only) gets the same pace alone: its CPU per message at that rate.
  saturation: N messages queued at the broker first, then drained (bench/ingest.py's timed start;
         the gateway's session also holds the bare subscriber's paced messages): CPU from the first
         message until the last is in InfluxDB (as the paced figure counts the drain too) /
         messages, for the gateway; CPU over its first-to-last window / messages for the bare
         subscriber.

The figure is paced / saturation (target: at most 1.5); the bare subscriber's own ratio says how
much of it any Python subscriber pays for being woken per message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Options, Row, servers
from bench.ingest import RECEIVE_MAXIMUM, ROOT, Gateway, _baseline, _prepublish, _scrape
from tests.load import rating_event
from tests.servers import InfluxDB, Mosquitto

RATE = 2000  # msg/s: a large hall's busy moment
PACED_S = 10.0
WARMUP_S = 2.0  # not measured: the rate settles, the first drains run
DEFAULT_RECORDS = 30_000  # the saturation drain
PACED_SEQ = 1_000_000  # the paced phase's first seq


class Paced(threading.Thread):
    """`count` rating events to `topic` at `rate` msg/s (QoS 1), on time however late a tick is."""

    def __init__(
        self, broker: Mosquitto, topic: str, rate: float, count: int, client_id: str, first_seq: int = 0
    ) -> None:
        super().__init__(daemon=True)
        self.topic, self.rate, self.count = topic, rate, count
        self.sent = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(RECEIVE_MAXIMUM)
        self.client.max_queued_messages_set(0)
        self.acked = 0
        self.client.on_publish = self._on_publish
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.stop_flag = threading.Event()
        # Encoded before the clock starts; seqs (and so cases and times) apart from the other
        # phases', so no event of one phase is a resend of another's.
        self.payloads = [rating_event(first_seq + seq) for seq in range(count)]

    def run(self) -> None:
        start = time.perf_counter()
        while self.sent < self.count and not self.stop_flag.is_set():
            due = min(self.count, int((time.perf_counter() - start) * self.rate) + 1)
            while self.sent < due:
                self.client.publish(self.topic, self.payloads[self.sent], qos=1)
                self.sent += 1
            time.sleep(0.001)

    def _on_publish(self, *_args: object) -> None:
        self.acked += 1  # paho's network thread; only this thread writes it

    def close(self) -> None:
        """Once the broker has every message (a disconnect drops what paho still holds)."""
        self.stop_flag.set()
        self.join()
        deadline = time.monotonic() + 60
        while self.acked < self.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.acked < self.sent:
            raise AssertionError(f"publisher: {self.acked} of {self.sent} acknowledged by the broker")
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class RunFigures:
    gw_paced_us: float  # gateway CPU per message, paced
    gw_sat_us: float  # gateway CPU per message, saturation, until all are in InfluxDB
    gw_sat_ingest_us: float  # the same until all are committed (the drain into InfluxDB partly left out)
    base_paced_us: float
    base_sat_us: float
    paced_rate: float  # msg/s the gateway committed over the measured window
    gw_paced_cpu_pct: float


def _per_message_us(b: dict) -> float:
    """A bare subscriber's report: CPU over its first-to-last window / the messages in it."""
    return 1e6 * b["cpu_pct"] / 100 * b["wall_s"] / (b["received"] - 1)


def _events(http: httpx.Client, gw: Gateway) -> float:
    return _scrape(http, f"{gw.api_url}/metrics").get('hallgate_hub_messages_total{outcome="events"}', 0.0)


def _gateway_paced(gw: Gateway, broker: Mosquitto, tag: str) -> tuple[float, float, float]:
    """(CPU us per message, committed msg/s, CPU %) of the running gateway at RATE msg/s."""
    count = int(RATE * PACED_S)
    assert gw.proc is not None
    ps = psutil.Process(gw.proc.pid)
    pub = Paced(broker, gw.topic, RATE, count, f"bench-paced-{tag}", first_seq=PACED_SEQ)
    with httpx.Client() as http:
        pub.start()
        time.sleep(WARMUP_S)
        e0, c0, t0 = _events(http, gw), sum(ps.cpu_times()[:2]), time.perf_counter()
        time.sleep(PACED_S - WARMUP_S - 1.0)  # the last second is not measured either
        e1, c1, t1 = _events(http, gw), sum(ps.cpu_times()[:2]), time.perf_counter()
        pub.join(timeout=PACED_S + 30)
        pub.close()
        deadline = time.monotonic() + 30
        while _events(http, gw) < count:  # every message committed before the next phase
            if time.monotonic() > deadline:
                raise AssertionError(f"gateway: {_events(http, gw):.0f} of {count} committed")
            time.sleep(0.1)
    n = e1 - e0
    return 1e6 * (c1 - c0) / n, n / (t1 - t0), 100 * (c1 - c0) / (t1 - t0)


def _baseline_paced(broker: Mosquitto, base_id: str, topic: str, tag: str) -> dict:
    """The bare subscriber's report (its first-to-last window) for RATE msg/s."""
    count = int(RATE * PACED_S)
    args = ["drain", "--port", str(broker.port), "--client-id", base_id, "--count", str(count)]
    base = subprocess.Popen(
        [sys.executable, "-m", "bench.mqtt_baseline", *args, "--receive-maximum", str(RECEIVE_MAXIMUM)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # connected to its session before the first message, so it sees the pace
    pub = Paced(broker, topic, RATE, count, f"bench-paced-base-{tag}", first_seq=PACED_SEQ + count)
    pub.start()
    pub.join(timeout=PACED_S + 30)
    pub.close()
    out, _ = base.communicate(timeout=60)
    b = json.loads(out)
    if b["received"] != count:
        raise AssertionError(f"baseline: {b}")
    return b


def one_run(root: Path, broker: Mosquitto, influx: InfluxDB, r: int, n: int) -> RunFigures:
    """Each subscriber paced alone (the other one away, its session queueing), then both drain."""
    site, db, base_id = f"paced{r}", f"paced{r}", f"bench-paced-baseline-{r}"
    folder = root / f"run{r}"
    folder.mkdir()
    influx.create_database(db)
    # The drain at the product's default pace (store.flush_interval_s 1 s), not the tests' 0.2 s.
    gw = Gateway(folder, broker, influx, site=site, database=db, flush_interval_s=1.0)
    m = int(RATE * PACED_S)
    try:
        gw.start()
        time.sleep(0.5)  # SUBACK well past
        gw_paced, rate, cpu_pct = _gateway_paced(gw, broker, str(r))
        gw.stop()  # its session keeps what follows: the baseline's paced messages, then N more
        _baseline("setup", broker.port, base_id, topic=gw.topic)
        b_paced = _baseline_paced(broker, base_id, gw.topic, str(r))
        _prepublish(broker, gw.topic, n, f"bench-paced-pub-{r}")
        sat = gw.timed_drain(m + n, influx, db, timeout=120 + n / 500, influx_total=2 * m + n)
        b_sat = _baseline("drain", broker.port, base_id, count=n, timeout=120 + n / 500)
    finally:
        gw.stop()
    return RunFigures(
        gw_paced_us=gw_paced,
        # Until the last one is in InfluxDB, as the paced figure counts the drain too.
        gw_sat_us=1e6 * sat.cpu_pct_e2e / 100 / sat.e2e_rate,
        gw_sat_ingest_us=1e6 * sat.cpu_pct / 100 / sat.ingest_rate,
        base_paced_us=_per_message_us(b_paced),
        base_sat_us=_per_message_us(b_sat),
        paced_rate=rate,
        gw_paced_cpu_pct=cpu_pct,
    )


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_RECORDS
    runs: list[RunFigures] = []
    with servers("bench-paced-") as (root, broker, influx):
        for r in range(opts.runs):
            f = one_run(root, broker, influx, r, n)
            runs.append(f)
            print(
                f"  run {r}: gateway {f.gw_paced_us:.0f} us/msg at {f.paced_rate:,.0f} msg/s "
                f"({f.gw_paced_cpu_pct:.0f} % CPU) vs {f.gw_sat_us:.0f} us/msg at saturation "
                f"({f.gw_sat_ingest_us:.0f} until committed) "
                f"(x{f.gw_paced_us / f.gw_sat_us:.2f}); bare paho {f.base_paced_us:.0f} vs "
                f"{f.base_sat_us:.0f} us/msg (x{f.base_paced_us / f.base_sat_us:.2f})",
                file=sys.stderr,
                flush=True,
            )

    def col(k: str) -> list[float]:
        return [getattr(f, k) for f in runs]

    ratio = [f.gw_paced_us / f.gw_sat_us for f in runs]
    base_ratio = [f.base_paced_us / f.base_sat_us for f in runs]
    return [
        Row.of(
            "paced",
            f"gateway CPU per message at a paced {RATE} msg/s (drain into InfluxDB included)",
            "us",
            col("gw_paced_us"),
            f"the gateway at saturation ({n} pre-queued)",
            col("gw_sat_us"),
            "ratio <= 1.5",
        ),
        Row.of(
            "paced",
            "gateway paced / saturation, per run",
            "x",
            ratio,
            "bare paho subscriber paced / saturation",
            base_ratio,
            "<= 1.5",
        ),
        Row.of(
            "paced",
            "gateway CPU per message at saturation, until committed (drain partly after it)",
            "us",
            col("gw_sat_ingest_us"),
        ),
        Row.of(
            "paced",
            f"bare paho subscriber CPU per message at {RATE} msg/s",
            "us",
            col("base_paced_us"),
            "the same at saturation",
            col("base_sat_us"),
        ),
        Row.of(
            "paced",
            f"gateway CPU % at {RATE} msg/s (100 = one core)",
            "%",
            col("gw_paced_cpu_pct"),
        ),
    ]
