"""A real site gateway's forwarder at a village's, a town's and the centre's nominal rates (issue 25).

`python -m bench district_forwarder [--minutes M]` (default 2 minutes a level; the soak's default
--minutes 60 is taken as "not given"). Per level, the hall dscale assumed for it
(firmware_sim/district_load.py LEVEL_DEVICES: village 4 MQTT devices and 1 people counter, town
18 and 2, centre 66 and 8) as a hall file of rating pads and Modbus people counters, played by
`hallgate sim hall` (a heartbeat every 30 s and 2 events a minute per MQTT device; the gateway polls
each counter once a second) on its own Mosquitto, into `hallgate run`:

- with `district:` forwarding to a real `victoria-metrics` (the forwarder on);
- then the same hall, same length, without it (the forwarder off): the difference is the
  forwarder's share of the gateway.

Measured over M minutes after a 10 s warm-up: the gateway's CPU % (psutil user+system over wall;
100 % = one core) and peak RSS (sampled every 0.5 s), and with forwarding on, the samples the
district store received from the site a second. One run per level and mode.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from bench.common import Options, PeakRSS, Row
from firmware_sim.district_load import LEVEL_DEVICES
from tests.servers import Mosquitto, VictoriaMetrics, free_port

DEFAULT_MINUTES, WARM_UP_S = 2.0, 10.0
LEVELS = ("village", "town", "centre")


def hall_yaml(folder: Path, level: str, broker: Mosquitto, vm: VictoriaMetrics | None, modbus_base: int) -> str:
    mqtt, counters = LEVEL_DEVICES[level]
    pads = "".join(
        f"  - {{id: rp-{i:03d}, kind: rating_pad, profile: ref-rating-pad, window: W{i:03d}}}\n"
        for i in range(1, mqtt + 1)
    )
    pcs = "".join(
        f"  - {{id: pc-{i:02d}, kind: people_counter, profile: ref-people-counter, zone: hall, "
        f"modbus: {{host: 127.0.0.1, port: {modbus_base + i}, unit: 1}}}}\n"
        for i in range(1, counters + 1)
    )
    district = ""
    if vm is not None:
        district = f'district: {{url: "{vm.url}", api: victoriametrics, site_label: {level}, start_jitter_s: 0}}\n'
    return (
        f"site: {level}\ntimezone: Asia/Shanghai\nzones: [{{id: hall, capacity: 300}}]\n"
        f"api: {{port: {free_port()}}}\nbroker: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"store: {{path: {folder}/outbox.sqlite}}\ninflux: {{api: none}}\n{district}devices:\n{pads}{pcs}"
    )


def api_port(config: Path) -> int:
    line = next(x for x in config.read_text().splitlines() if x.startswith("api:"))
    return int(line.split("port:")[1].strip(" }"))


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hallgate run exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("hallgate run not ready")


def district_samples(vm: VictoriaMetrics, site: str) -> int:
    return sum(len(s["timestamps"]) for s in vm.export(f'{{site="{site}"}}'))


def measure(root: Path, level: str, forward: bool, seconds: float) -> dict[str, float]:
    folder = root / f"{level}-{'on' if forward else 'off'}"
    (folder / "broker").mkdir(parents=True)
    (folder / "vm").mkdir()
    broker = Mosquitto(folder / "broker")
    broker.start()
    vm = VictoriaMetrics(folder / "vm", ["-search.latencyOffset=0s"]) if forward else None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if vm is not None:
            vm.start()
        config = folder / "hall.yaml"
        config.write_text(hall_yaml(folder, level, broker, vm, free_port() + 100))
        log = (folder / "run.log").open("wb")
        sim_cmd = [sys.executable, "-m", "firmware_sim", "hall", "-c", str(config), "--stateless"]
        sim_cmd += ["--broker", f"127.0.0.1:{broker.port}", "--status-s", "0"]
        procs.append(subprocess.Popen(sim_cmd, stdout=log, stderr=subprocess.STDOUT))
        gw = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        procs.append(gw)
        wait_ready(api_port(config), gw)
        time.sleep(WARM_UP_S)
        before = district_samples(vm, level) if vm is not None else 0
        p = psutil.Process(gw.pid)
        t0, c0 = time.monotonic(), sum(p.cpu_times()[:2])
        with PeakRSS(gw.pid, 0.5) as rss:
            time.sleep(seconds)
            cpu = 100 * (sum(p.cpu_times()[:2]) - c0) / (time.monotonic() - t0)
        out = {"cpu_pct": cpu, "rss_mib": rss.peak / 2**20}
        if vm is not None:
            time.sleep(2)  # the last second's flush
            out["stored_per_s"] = (district_samples(vm, level) - before) / seconds
        return out
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if vm is not None:
            vm.stop()
        broker.stop()


def run(opts: Options) -> list[Row]:
    minutes = DEFAULT_MINUTES if opts.minutes == Options.minutes else opts.minutes
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-forwarder-") as tmp:
        for level in LEVELS:
            on = measure(Path(tmp), level, True, minutes * 60)
            off = measure(Path(tmp), level, False, minutes * 60)
            mqtt, counters = LEVEL_DEVICES[level]
            b = f"forwarder {level} ({mqtt} MQTT, {counters} counters)"
            print(f"{b}: on {on}, off {off}", flush=True)
            rows += [
                Row.of(b, "district samples stored/s", "samples/s", [on["stored_per_s"]]),
                Row.of(b, "gateway CPU, forwarding", "% of a core", [on["cpu_pct"]], "no district", [off["cpu_pct"]]),
                Row.of(b, "gateway peak RSS, forwarding", "MiB", [on["rss_mib"]], "no district", [off["rss_mib"]]),
            ]
    return rows
