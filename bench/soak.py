"""Soak: the gateway at a fixed rate for N minutes; its RSS and CPU per minute, and their slopes.

A hall's year is 340,000 ratings and millions of heartbeats: the gateway may keep nothing per
message in memory, so at a constant rate its resident set must level off and its CPU per minute
stay flat. Per run, on one Mosquitto and one InfluxDB 1.6 (bench.common.servers), the real
gateway process (`hallgate run`, MQTT 5, influx v1, the product's default drain pace of 1 s):

  hall pads: PADS rating pads (rp-1 ...), one per window;
  hall demo: configs/demo-hall.yaml (its 20 rating pads, lockboxes, attendance machines,
       posts, phones), less its Modbus devices (no Modbus servers here) and its API tokens;
  mix ratings: rating events only, every one with a case id never seen before, round-robin over
       the pads (QoS 1);
  mix mixed: of every 10 messages 7 heartbeats (QoS 0), 2 rated and 1 unrated event (QoS 1).

A publisher thread in this process sends RATE msg/s, on time however late a tick is. Every
SAMPLE_S (60 s) this process reads the gateway's RSS (/proc/PID/status VmRSS) and CPU
(/proc/PID/stat utime + stime over the minute) and its committed events (/metrics), and prints a
line. At the end: the table, the least-squares slopes of RSS (MiB/min) and CPU (points/min) after
the warm-up (WARMUP_MIN minutes, 5 by default, fewer when the run is short), the spread of RSS
after the warm-up around its mean (goal: within +-5 %), and the peak RSS (sampled every 0.2 s).

BENCH_TRACEMALLOC=DIR: the gateway runs under bench/tracemalloc_run.py, which writes the top
allocation growth between snapshots to DIR every SAMPLE_S (to find what grows).

BENCH_SOAK_STALL=AT:FOR (seconds): the gateway is stopped (SIGSTOP) AT seconds into the traffic for
FOR seconds, then continued, as a busy disk or another process's burst of CPU would stall it: what
piled up meanwhile (at the broker, in the outbox) then comes in full batches, and the resident set
shows what a backlog costs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Options, PacedTraffic, PeakRSS, Row, servers
from bench.ingest import RECEIVE_MAXIMUM, _scrape
from tests.servers import GatewayProcess, InfluxDB, Mosquitto

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = float(os.environ.get("BENCH_SOAK_SAMPLE_S", "60"))  # a shorter one for a quick look
WARMUP_MIN = 5
PADS = 8
TICK = os.sysconf("SC_CLK_TCK")
TRACEMALLOC = os.environ.get("BENCH_TRACEMALLOC")
STALL = os.environ.get("BENCH_SOAK_STALL")  # "AT:FOR" seconds


def _stall(pid: int, at_s: float, for_s: float, done: threading.Event) -> None:
    """SIGSTOP the gateway at `at_s` for `for_s` (see the module doc)."""
    if done.wait(at_s):
        return
    print(f"  stalling the gateway for {for_s:g} s", file=sys.stderr, flush=True)
    os.kill(pid, signal.SIGSTOP)
    try:
        done.wait(for_s)
    finally:
        os.kill(pid, signal.SIGCONT)


class SoakGateway(GatewayProcess):
    """The gateway on a hall of `pads` rating pads, or on the demo hall (see the module doc)."""

    def __init__(self, folder: Path, broker: Mosquitto, influx: InfluxDB, hall: str, pads: int) -> None:
        super().__init__(folder, broker, influx, site="soak", database="soak", flush_interval_s=1.0)
        self.folder = folder
        doc: dict
        if hall == "demo":
            doc = yaml.safe_load((ROOT / "configs" / "demo-hall.yaml").read_text())
            doc["devices"] = [d for d in doc["devices"] if "modbus" not in d]
            doc["api"] = {"port": self.api_port}
        else:
            doc = {
                "site": "soak",
                "api": {"port": self.api_port},
                "devices": [
                    {"id": f"rp-{i}", "kind": "rating_pad", "profile": "ref-rating-pad", "window": f"W{i:02d}"}
                    for i in range(1, pads + 1)
                ],
            }
        doc["site"] = "soak"
        doc["broker"] = {"host": "127.0.0.1", "port": broker.port, "protocol": 5}
        doc["store"] = {"path": f"{folder}/outbox.sqlite", "flush_interval_s": 1.0}
        doc["influx"] = {"api": "v1", "url": influx.url, "database": "soak"}
        self.pads = [(d["id"], d.get("window", "W01")) for d in doc["devices"] if d["kind"] == "rating_pad"]
        self.config.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))

    def spawn(self) -> subprocess.Popen[bytes]:
        if not TRACEMALLOC:
            return super().spawn()
        args = ["-m", "bench.tracemalloc_run", "--out", TRACEMALLOC, "--every", str(SAMPLE_S)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *args, "--", "run", "-c", str(self.config)], cwd=ROOT, stdout=log, stderr=log
            )
        return self.proc


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


class Traffic(PacedTraffic):
    """RATE msg/s over the pads until stopped: ratings with distinct case ids, or the mixed hall."""

    def __init__(self, broker: Mosquitto, pads: list[tuple[str, str]], rate: float, mix: str) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-soak-pub")
        client.max_inflight_messages_set(RECEIVE_MAXIMUM)
        client.max_queued_messages_set(0)
        client.connect(broker.host, broker.port)
        client.loop_start()
        super().__init__(client, rate)
        self.pads, self.mix = pads, mix
        self.seqs = [0] * len(pads)

    def message(self, i: int) -> tuple[str, bytes, int]:
        """The i-th message: (topic, payload, qos)."""
        p = i % len(self.pads)
        dev, window = self.pads[p]
        self.seqs[p] += 1
        seq = self.seqs[p]
        kind = "event" if self.mix == "ratings" else ("event", "heartbeat")[(i // len(self.pads)) % 10 < 7]
        topic = f"hall/soak/rating/{dev}/{kind}"
        if kind == "heartbeat":
            return topic, json.dumps({"ts": _now_iso(), "uptime_s": i, "rssi": -61, "battery": 87}).encode(), 0
        rated = self.mix == "ratings" or (i // len(self.pads)) % 10 != 9
        body: dict = {"seq": seq, "ts": _now_iso(), "type": "rated" if rated else "unrated", "window": window}
        if rated:
            score = 2 if i % 100 == 0 else 4 if i % 100 < 6 else 5
            body |= {
                "case_id": f"320111-2026-{i:09d}",
                "staff_id": "S0231",
                "ticket": f"A{i % 1000:03d}",
                "item": "营业执照设立登记",
                "score": score,
                "reasons": ["slow"] if score <= 2 else [],
            }
        return topic, json.dumps(body, ensure_ascii=False).encode(), 1


@dataclass
class Sample:
    minute: float
    rss_mib: float
    cpu_pct: float  # of one core, over the interval that ends here
    events: float  # committed by the gateway (hub messages, outcome events), cumulative
    sent: int


@dataclass
class Soak:
    samples: list[Sample] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    ready_rss_mib: float = 0.0  # ready, before the first message
    warmup_min: float = WARMUP_MIN


def _proc(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds user + system) of a process, from /proc."""
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _committed(http: httpx.Client, api_url: str, before: float) -> float:
    """The gateway's committed events; the last figure when /metrics does not answer in time (a
    tracemalloc snapshot holds the gateway for seconds)."""
    try:
        return _scrape(http, f"{api_url}/metrics").get('hallgate_hub_messages_total{outcome="events"}', before)
    except httpx.HTTPError:
        return before


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def soak(minutes: float, rate: float, mix: str, hall: str, pads: int) -> Soak:
    out = Soak(warmup_min=min(WARMUP_MIN, minutes / 3))
    with servers("bench-soak-") as (root, broker, influx):
        influx.create_database("soak")
        gw = SoakGateway(root, broker, influx, hall, pads)
        gw.start(timeout=180 if TRACEMALLOC else 120)  # traced, its imports take minutes; 120: a loaded machine
        assert gw.proc is not None
        pid = gw.proc.pid
        traffic = Traffic(broker, gw.pads, rate, mix)
        stalled = threading.Event()  # set: the stall, if any, ends now
        try:
            with PeakRSS(pid, interval_s=0.2) as peak, httpx.Client() as http:
                t0 = time.monotonic()
                out.ready_rss_mib, cpu0 = _proc(pid)
                traffic.start()
                if STALL:
                    at_s, for_s = (float(x) for x in STALL.split(":"))
                    threading.Thread(target=_stall, args=(pid, at_s, for_s, stalled), daemon=True).start()
                last_t, last_cpu = t0, cpu0
                n, events = 0, 0.0
                while (n + 1) * SAMPLE_S <= minutes * 60 + 1e-6:
                    n += 1
                    time.sleep(max(0.0, t0 + n * SAMPLE_S - time.monotonic()))
                    gw.check_alive()
                    rss, cpu = _proc(pid)
                    t = time.monotonic()
                    events = _committed(http, gw.api_url, events)
                    s = Sample((t - t0) / 60, rss, 100 * (cpu - last_cpu) / (t - last_t), events, traffic.sent)
                    out.samples.append(s)
                    last_t, last_cpu = t, cpu
                    print(
                        f"  {s.minute:6.2f} min  RSS {s.rss_mib:7.1f} MiB  CPU {s.cpu_pct:5.1f} %  "
                        f"committed {s.events:,.0f} of {s.sent:,} sent",
                        file=sys.stderr,
                        flush=True,
                    )
            out.peak_rss_mib = peak.peak / 2**20
        finally:
            stalled.set()
            traffic.close()
            gw.stop()
    return out


def summary(s: Soak) -> dict[str, float]:
    after = [x for x in s.samples if x.minute > s.warmup_min + 1e-6]
    xs = [x.minute for x in after]
    rss = [x.rss_mib for x in after]
    cpu = [x.cpu_pct for x in after]
    mean = sum(rss) / len(rss) if rss else 0.0
    return {
        "rss_slope": slope(xs, rss),
        "cpu_slope": slope(xs, cpu),
        "rss_spread_pct": 100 * max(abs(r - mean) for r in rss) / mean if rss else 0.0,
        "rss_mean": mean,
    }


def run(opts: Options) -> list[Row]:
    minutes, rate, mix, hall = opts.minutes, opts.rate, opts.mix, opts.hall
    label = f"{hall} hall, {mix}, {rate:,.0f} msg/s, {minutes:g} min"
    s = soak(minutes, rate, mix, hall, PADS)
    f = summary(s)
    print(f"soak ({label}); warm-up {s.warmup_min:g} min", file=sys.stderr)
    print(f"  ready, before the first message: RSS {s.ready_rss_mib:.1f} MiB", file=sys.stderr)
    print("  minute  RSS MiB  CPU %  committed  sent", file=sys.stderr)
    for x in s.samples:
        print(f"  {x.minute:6.2f}  {x.rss_mib:7.1f}  {x.cpu_pct:5.1f}  {x.events:9,.0f}  {x.sent:,}", file=sys.stderr)
    print(
        f"  after the warm-up: RSS slope {f['rss_slope']:+.2f} MiB/min, spread +-{f['rss_spread_pct']:.1f} % "
        f"around {f['rss_mean']:.1f} MiB; CPU slope {f['cpu_slope']:+.2f} points/min; "
        f"peak RSS {s.peak_rss_mib:.1f} MiB",
        file=sys.stderr,
        flush=True,
    )
    last = s.samples[-1]
    return [
        Row.of("soak", f"RSS per minute ({label})", "MiB", [x.rss_mib for x in s.samples]),
        Row.of("soak", f"CPU % of a core per minute ({label})", "%", [x.cpu_pct for x in s.samples]),
        Row.of("soak", f"RSS slope after {s.warmup_min:g} min", "MiB/min", [f["rss_slope"]], target="~0"),
        Row.of("soak", "RSS spread after the warm-up around its mean", "%", [f["rss_spread_pct"]], target="<= 5"),
        Row.of("soak", f"CPU slope after {s.warmup_min:g} min", "points/min", [f["cpu_slope"]], target="~0"),
        Row.of("soak", f"peak RSS ({label})", "MiB", [s.peak_rss_mib]),
        Row.of("soak", "RSS when ready, before the first message", "MiB", [s.ready_rss_mib]),
        Row.of("soak", "messages committed / sent", "%", [100 * last.events / max(1, last.sent)]),
    ]
