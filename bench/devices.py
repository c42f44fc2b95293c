"""The API while ingest runs: a kept-alive request, and `GET /api/v1/devices` of 5,000 devices.

A hall of 5,000 rating pads (every one online: a retained status each) on a real Mosquitto; the
gateway as a child process (`hallgate run`, no InfluxDB: the outbox keeps everything). Requests
go one at a time over one kept-alive connection with Nagle off (bench/rawhttp.py: a bare client,
so the figures are the server's). Per run:
  idle: 1,000 `GET /healthz` (keep-alive p50, target < 2 ms; baseline, same run: the same requests
        to a bare asyncio HTTP server, bench/rawhttp.py, the floor on this machine), then 1,000
        `GET /api/v1/devices` (the baseline of the loaded figure);
  load: a publisher sends rating events at a paced 2,000 msg/s (QoS 1, spread over all the pads);
        after 2 s, the same 1,000 `GET /api/v1/devices` (p99 target < 20 ms) and 1,000 `GET /healthz`;
        the gateway's CPU % over that window (psutil), and the time its alert evaluation took
        (`hallgate_alert_evaluation_seconds_total`) as a share of it (target < 5 %).
p99 of 1,000 is the tenth slowest: a second and a half of requests, so the gateway's once-a-second
work (health and alert ticks) falls inside it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Options, PacedTraffic, Row, median
from bench.rawhttp import KeepAlive
from tests.load import score
from tests.servers import Mosquitto, free_port

DEVICES = 5000
RATE = 2000  # msg/s while loaded
REQUESTS = 1000
TOKEN = "bench-devices-token-0123456789"
SITE = "bench"


def _config(folder: Path, broker: Mosquitto, api_port: int) -> Path:
    pads = "\n".join(
        f"  - {{id: rp-{i:05d}, kind: rating_pad, profile: ref-rating-pad, window: W{i % 500:03d}}}"
        for i in range(DEVICES)
    )
    path = folder / "hall.yaml"
    path.write_text(f"""site: {SITE}
api: {{port: {api_port}, tokens: [{{role: technician, env: BENCH_TOKEN}}]}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite}}
devices:
{pads}
""")
    return path


def _client(broker: Mosquitto, client_id: str) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def _statuses(broker: Mosquitto) -> None:
    c = _client(broker, "bench-status")
    ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    infos = [
        c.publish(
            f"hall/{SITE}/rating/rp-{i:05d}/status", json.dumps({"state": "online", "ts": ts}), qos=1, retain=True
        )
        for i in range(DEVICES)
    ]
    for info in infos:
        info.wait_for_publish(30)
    c.disconnect()
    c.loop_stop()


class Paced(PacedTraffic):
    """Rating events at RATE msg/s over all the pads until stopped."""

    def __init__(self, broker: Mosquitto) -> None:
        super().__init__(_client(broker, "bench-pads"), RATE)

    def message(self, i: int) -> tuple[str, str, int]:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{i % 1000:03d}+00:00"
        body = {
            "seq": i // DEVICES,
            "ts": ts,
            "type": "rated",
            "window": "W001",
            "score": score(i),
            "case_id": f"bench-{i}",
        }
        return f"hall/{SITE}/rating/rp-{i % DEVICES:05d}/event", json.dumps(body), 1


def _devices(http: KeepAlive) -> list[float]:
    """REQUESTS sequential GET /api/v1/devices; the first answer is checked whole."""
    status, body = http.get("/api/v1/devices")
    assert status == 200 and len(json.loads(body)) == DEVICES, status
    return http.timed("/api/v1/devices", REQUESTS)


def _eval_seconds(http: KeepAlive) -> float:
    for line in http.get("/metrics")[1].decode().splitlines():
        if line.startswith("hallgate_alert_evaluation_seconds_total "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no hallgate_alert_evaluation_seconds_total in /metrics")


def _bare_healthz() -> list[float]:
    """The same kept-alive requests to a bare asyncio HTTP server in its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.rawhttp", str(port)], stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        http = KeepAlive(port)
        try:
            return http.timed("/healthz", REQUESTS)
        finally:
            http.close()
    finally:
        proc.terminate()
        proc.wait(10)


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def one_run(folder: Path) -> dict[str, float]:
    (folder / "mosquitto").mkdir()
    broker = Mosquitto(folder / "mosquitto")
    broker.start()
    proc = None
    try:
        _statuses(broker)
        api_port = free_port()
        config = _config(folder, broker, api_port)
        log = (folder / "gateway.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**__import__("os").environ, "BENCH_TOKEN": TOKEN},
        )
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        http: KeepAlive | None = None
        while True:
            try:
                http = http or KeepAlive(api_port, {"Authorization": f"Bearer {TOKEN}"})
                status, body = http.get("/api/v1/devices")
                if http.get("/readyz")[0] == 200 and status == 200 and all(d["online"] for d in json.loads(body)):
                    break
            except OSError:
                http = None
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"gateway not ready: {(folder / 'gateway.log').read_text()[-2000:]}")
            time.sleep(0.2)
        try:
            bare = _bare_healthz()
            idle_healthz = http.timed("/healthz", REQUESTS)
            idle = _devices(http)
            load = Paced(broker)
            load.start()
            time.sleep(2)  # let the rate settle
            c0, e0, t0 = sum(ps.cpu_times()[:2]), _eval_seconds(http), time.perf_counter()
            loaded = _devices(http)
            load_healthz = http.timed("/healthz", REQUESTS)
            c1, e1, t1 = sum(ps.cpu_times()[:2]), _eval_seconds(http), time.perf_counter()
            load.close()
            rate = load.sent / (t1 - t0 + 2)
        finally:
            http.close()
        cpu = c1 - c0
        return {
            "bare_p50": median(bare),
            "healthz_idle_p50": median(idle_healthz),
            "healthz_idle_p99": p99(idle_healthz),
            "healthz_load_p50": median(load_healthz),
            "healthz_load_p99": p99(load_healthz),
            "idle_p50": median(idle),
            "idle_p99": p99(idle),
            "load_p50": median(loaded),
            "load_p99": p99(loaded),
            "cpu_pct": 100 * cpu / (t1 - t0),
            "alert_share_pct": 100 * (e1 - e0) / cpu,
            "rate": rate,
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        broker.stop()


def run(opts: Options) -> list[Row]:
    runs = []
    for i in range(opts.runs):
        with tempfile.TemporaryDirectory(prefix="bench-devices-") as tmp:
            r = one_run(Path(tmp))
        print(
            f"  run {i}: keep-alive GET /healthz p50 {r['healthz_idle_p50']:.2f} ms (bare server "
            f"{r['bare_p50']:.2f} ms); GET /api/v1/devices ({DEVICES} devices) p50/p99 idle {r['idle_p50']:.1f}/"
            f"{r['idle_p99']:.1f} ms, under {r['rate']:,.0f} msg/s {r['load_p50']:.1f}/{r['load_p99']:.1f} ms; "
            f"/healthz under load {r['healthz_load_p50']:.2f}/{r['healthz_load_p99']:.1f} ms; "
            f"gateway CPU {r['cpu_pct']:.0f} %, alert evaluation {r['alert_share_pct']:.2f} % of it",
            file=sys.stderr,
            flush=True,
        )
        runs.append(r)

    def col(k: str) -> list[float]:
        return [r[k] for r in runs]

    return [
        Row.of(
            "devices",
            "keep-alive GET /healthz p50, idle",
            "ms",
            col("healthz_idle_p50"),
            "the same requests to a bare asyncio HTTP server",
            col("bare_p50"),
            "< 2 ms",
        ),
        Row.of(
            "devices",
            f"keep-alive GET /healthz p99, ingest at {RATE} msg/s",
            "ms",
            col("healthz_load_p99"),
            "the same, ingest idle",
            col("healthz_idle_p99"),
        ),
        Row.of(
            "devices",
            f"GET /api/v1/devices p50, {DEVICES} devices, ingest at {RATE} msg/s",
            "ms",
            col("load_p50"),
            "the same requests, ingest idle",
            col("idle_p50"),
        ),
        Row.of(
            "devices",
            f"GET /api/v1/devices p99, {DEVICES} devices, ingest at {RATE} msg/s",
            "ms",
            col("load_p99"),
            "the same requests, ingest idle",
            col("idle_p99"),
            "< 20 ms",
        ),
        Row.of(
            "devices",
            f"gateway CPU % at {RATE} msg/s while serving the requests",
            "%",
            col("cpu_pct"),
        ),
        Row.of(
            "devices",
            "alert evaluation, % of the gateway's CPU",
            "%",
            col("alert_share_pct"),
            "",
            None,
            "< 5 %",
        ),
    ]
