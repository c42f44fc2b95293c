"""How many simulated devices one simulator process sustains at their nominal rates.

A district of village sites (`firmware_sim/templates/village.yaml`: 2 rating pads, a lockbox and
an attendance machine on MQTT, a people counter on Modbus TCP) runs as one process:
`python -m firmware_sim district --sites S --rate 2 --heartbeat-s 30 --stateless`, i.e. every MQTT
device sends a heartbeat every 30 s and 2 events a minute (QoS 1), and every counter is polled
once a second (8 input registers) by a pymodbus poller in the benchmark's process, as a gateway
would. Per run, after the simulator printed `running` (every device online; the time to get there
is `startup`), over a window of 30 s (one heartbeat period) starting 5 s later:
  - the simulator's CPU % (psutil user+system delta / wall), and from it the devices one core would
    carry (devices / CPU fraction: a linear extrapolation, stated as such);
  - MQTT messages a second seen by a bare paho subscriber on `hall/#`, against the nominal rate
    (MQTT devices x (1/30 + 2/60));
  - Modbus polls answered a second (nominal: one per counter) and the polls that failed;
  - peak RSS.
Baseline, same run, same broker: `bench/sim_baseline.py`, as many bare aiomqtt clients as the
simulator has MQTT devices, publishing the same traffic with no firmware logic. Simulator and
baseline alternate which goes first. Medians over the runs. `--records` sets the number of sites
(default 200 sites = 1,000 devices).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import AsyncModbusTcpClient

from bench.common import Options, PeakRSS, Row, median
from tests.servers import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITES = 200
MQTT_PER_SITE, MODBUS_PER_SITE = 4, 1
WINDOW_S = 30.0
SETTLE_S = 5.0
HEARTBEAT_S, RATE_PER_MIN = 30.0, 2.0


def modbus_ports(n: int, start: int = 20000) -> int:
    """The first of `n` consecutive free ports below the ephemeral range (ip_local_port_range
    starts at 32768 here): ports picked inside it collide with the clients' own ports."""
    base = start
    while base + n < 32768:
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    base = p + 1
                    break
        else:
            return base
    raise RuntimeError(f"no {n} consecutive free ports in {start}-32767")


class Counter:
    """A bare paho subscriber on hall/# in its own thread, counting messages."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{time.time_ns()}")
        self.client.on_connect = lambda c, *_: c.subscribe("hall/#", qos=0)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, *_: object) -> None:
        self.count += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Poller:
    """Polls every counter once a second (8 input registers), in its own thread and event loop."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    async def _one(self, port: int) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
        await client.connect()
        try:
            next_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    rr = await client.read_input_registers(0, count=8, device_id=1)
                    if rr.isError():
                        self.failed += 1
                    else:
                        self.ok += 1
                except Exception:  # a timeout or a dropped connection: counted as a failed poll
                    self.failed += 1
                next_at += 1.0
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            client.close()

    async def _main(self) -> None:
        # a timed-out poll is counted; pymodbus would also print a frame dump for each
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        await asyncio.gather(*(self._one(p) for p in self.ports), return_exceptions=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _start(cmd: list[str], marker: str, timeout: float) -> tuple[subprocess.Popen[str], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = t0 + timeout
    seen: list[str] = []
    for line in proc.stdout:
        if line.startswith(marker):
            break
        seen.append(line)
        if time.monotonic() > deadline:
            break
    else:
        tail = "".join(ln for ln in seen if not ln.startswith("  "))[-2000:]
        raise RuntimeError(f"{cmd[:4]} ended before {marker!r} (exit {proc.wait()}):\n{tail}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    return proc, time.monotonic() - t0


def _measure(proc: subprocess.Popen[str], counter: Counter, poller: Poller | None) -> dict[str, float]:
    ps = psutil.Process(proc.pid)
    # heartbeats go out 30 s after each device connected; every device connected before
    # `running`, so a window from running + SETTLE_S holds exactly one heartbeat per device
    time.sleep(SETTLE_S)
    with PeakRSS(proc.pid) as rss:
        c0, m0, t0 = sum(ps.cpu_times()[:2]), counter.count, time.monotonic()
        ok0, failed0 = (poller.ok, poller.failed) if poller else (0, 0)
        time.sleep(WINDOW_S)
        c1, m1, t1 = sum(ps.cpu_times()[:2]), counter.count, time.monotonic()
        ok1, failed1 = (poller.ok, poller.failed) if poller else (0, 0)
    wall = t1 - t0
    return {
        "cpu_pct": 100 * (c1 - c0) / wall,
        "msg_s": (m1 - m0) / wall,
        "polls_s": (ok1 - ok0) / wall,
        "poll_failures": failed1 - failed0,
        "rss_mib": rss.peak / 2**20,
    }


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(opts: Options) -> list[Row]:
    sites = opts.records or DEFAULT_SITES
    mqtt_n, modbus_n = sites * MQTT_PER_SITE, sites * MODBUS_PER_SITE
    devices = mqtt_n + modbus_n
    sims: list[dict[str, float]] = []
    bases: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mosquitto").mkdir()
        broker = Mosquitto(Path(tmp) / "mosquitto", persistence=False)
        broker.start()
        try:
            for i in range(opts.runs):
                order = ("sim", "base") if i % 2 == 0 else ("base", "sim")
                for which in order:
                    counter = Counter(broker.port)
                    poller = None
                    try:
                        if which == "sim":
                            port_base = modbus_ports(sites)
                            cmd = [sys.executable, "-m", "firmware_sim", "district", "--sites", str(sites)]
                            cmd += ["--broker", f"127.0.0.1:{broker.port}", "--modbus-port-base", str(port_base)]
                            cmd += ["--rate", str(RATE_PER_MIN), "--heartbeat-s", str(HEARTBEAT_S), "--stateless"]
                            cmd += ["--no-control", "--status-s", "0", "--connect-timeout", "300", "--seed", str(i)]
                            proc, startup = _start(cmd, "running", 300)
                            poller = Poller(list(range(port_base, port_base + sites)))
                        else:
                            cmd = [sys.executable, "-m", "bench.sim_baseline", "--port", str(broker.port)]
                            cmd += ["--clients", str(mqtt_n), "--heartbeat-s", str(HEARTBEAT_S)]
                            cmd += ["--rate", str(RATE_PER_MIN)]
                            proc, startup = _start(cmd, "online", 300)
                        try:
                            figures = _measure(proc, counter, poller)
                        finally:
                            t_stop = time.monotonic()
                            if poller:
                                poller.close()
                            _stop(proc)
                            print(f"  stopped in {time.monotonic() - t_stop:.1f} s", file=sys.stderr, flush=True)
                        figures["startup_s"] = startup
                        (sims if which == "sim" else bases).append(figures)
                        print(
                            f"  run {i + 1} {which}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()),
                            file=sys.stderr,
                            flush=True,
                        )
                    finally:
                        counter.close()
        finally:
            broker.stop()

    def col(rows: list[dict[str, float]], key: str) -> list[float]:
        return [r[key] for r in rows]

    # a village: 4 heartbeats per period; activities of 2 pads and 1 machine are 1 event, a
    # lockbox's is 3 (door_open, phone in/out, door_closed); the baseline sends 1 event each
    nominal = sites * (MQTT_PER_SITE / HEARTBEAT_S + (2 + 1 + 3) * RATE_PER_MIN / 60)
    nominal_base = mqtt_n * (1 / HEARTBEAT_S + RATE_PER_MIN / 60)
    per_core = [devices / max(r["cpu_pct"] / 100, 1e-6) for r in sims]
    per_core_base = [mqtt_n / max(r["cpu_pct"] / 100, 1e-6) for r in bases]
    base_name = f"{mqtt_n} bare aiomqtt clients, same traffic"
    label = f"{devices} devices ({mqtt_n} MQTT, {modbus_n} Modbus), nominal rates"
    return [
        Row(
            "sim",
            f"simulator CPU, {label}",
            "%",
            median(col(sims, "cpu_pct")),
            base_name,
            median(col(bases, "cpu_pct")),
            runs=col(sims, "cpu_pct"),
            baseline_runs=col(bases, "cpu_pct"),
        ),
        Row(
            "sim",
            "devices one core carries (devices / CPU fraction)",
            "devices",
            median(per_core),
            "bare clients one core carries",
            median(per_core_base),
            target=">= 3,000 (366 x 30 over a few processes)",
            runs=per_core,
            baseline_runs=per_core_base,
        ),
        Row(
            "sim",
            f"MQTT messages/s seen (nominal {nominal:.0f}; baseline {nominal_base:.0f})",
            "msg/s",
            median(col(sims, "msg_s")),
            base_name,
            median(col(bases, "msg_s")),
            runs=col(sims, "msg_s"),
            baseline_runs=col(bases, "msg_s"),
        ),
        Row(
            "sim",
            f"Modbus polls answered/s (nominal {modbus_n})",
            "polls/s",
            median(col(sims, "polls_s")),
            "",
            None,
            runs=col(sims, "polls_s"),
        ),
        Row(
            "sim",
            "Modbus polls failed in the window",
            "polls",
            median(col(sims, "poll_failures")),
            "",
            None,
            runs=col(sims, "poll_failures"),
        ),
        Row(
            "sim",
            "startup until every device online",
            "s",
            median(col(sims, "startup_s")),
            base_name,
            median(col(bases, "startup_s")),
            runs=col(sims, "startup_s"),
            baseline_runs=col(bases, "startup_s"),
        ),
        Row(
            "sim",
            "simulator peak RSS",
            "MiB",
            median(col(sims, "rss_mib")),
            base_name,
            median(col(bases, "rss_mib")),
            runs=col(sims, "rss_mib"),
            baseline_runs=col(bases, "rss_mib"),
        ),
    ]
