"""1,000 people counters polled at 1 s: the gateway's CPU and how fresh each counter's sample is.

Simulators: 10 Modbus TCP servers (firmware_sim ModbusBus) x 100 PeopleCounter unit ids, in a
process of their own; the hall: 1,000 `people_counter` devices over 10 zones, poll_interval_s 1,
no InfluxDB. The gateway (`gateway.cli run`) runs in its own process, started through this module
so the baseline can undo the poll spreading.

Per run and variant, once every counter has been seen:
  gateway CPU %: psutil cpu_times delta / wall over a quiet window (no API calls in it);
  sample age: every 0.5 s for a while after it, `now - hallgate_device_last_seen_timestamp_seconds`
  for every counter, from /metrics (last_seen is when the hub applied the counter's newest
  sample, so poll, answer and batching are all in it); p50 and p99 over all of them.
Variants, same run, same simulators: `spread` (each device's first poll at index/count of the
period within its line, lines offset: gateway.runtime.poll_phases; one poller per line starts
them on the shared 100 ms grid of drivers.modbus.poll_line, so a tenth of the polls go in each
tick) and the baseline `aligned` (every poll at phase 0: every device due in the same instant
each second, each line's hundred then back to back). They alternate order.

    python -m bench counters [--runs R]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from bench.common import Options, Row, median
from tests.servers import free_port

SERVERS = 10
UNITS = 100
CPU_WINDOW_S = 20.0
AGE_WINDOW_S = 5.0
ROOT = Path(__file__).resolve().parent.parent


def hall_yaml(folder: Path, ports: list[int], api_port: int) -> Path:
    lines = [
        "site: bench",
        "zones:",
        *(f"  - {{id: z{s}, capacity: 500}}" for s in range(SERVERS)),
        f"api: {{port: {api_port}}}",
        f"store: {{path: {folder}/outbox.sqlite}}",
        "occupancy: {reset_at: null}",
        "devices:",
    ]
    for s, port in enumerate(ports):
        for u in range(1, UNITS + 1):
            lines.append(
                f"  - {{id: pc-{s}-{u}, kind: people_counter, profile: ref-people-counter, zone: z{s}, "
                f"poll_interval_s: 1.0, modbus: {{host: 127.0.0.1, port: {port}, unit: {u}}}}}"
            )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hall.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the processes ---------------------------------------------------------------------------


async def _serve(ports: list[int]) -> None:
    from firmware_sim.kinds.people_counter import PeopleCounter
    from firmware_sim.modbus_bus import ModbusBus

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    buses = [
        ModbusBus("127.0.0.1", port, [PeopleCounter(u, seed=s, rate_per_min=30) for u in range(1, UNITS + 1)])
        for s, port in enumerate(ports)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for bus in buses:
            await stack.enter_async_context(bus)
        print("serving", flush=True)
        await stop.wait()


def _gateway(config: str, aligned: bool) -> int:
    import gateway.runtime
    from gateway.cli import main

    if aligned:  # the baseline: every device polls at phase 0, as before the spreading
        gateway.runtime.poll_phases = lambda polled: dict.fromkeys((d for d, _, _ in polled), 0.0)
    return main(["run", "-c", config])


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.counters", *args], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- measuring -------------------------------------------------------------------------------


def _last_seen(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("hallgate_device_last_seen_timestamp_seconds{"):
            labels, _, value = line.rpartition(" ")
            device = labels.split('device="', 1)[1].split('"', 1)[0]
            out[device] = float(value)
    return out


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def measure(config: Path, api_port: int, aligned: bool, log: Path) -> tuple[float, float, float]:
    """(gateway CPU %, sample age p50 s, p99 s) of one gateway run."""
    url = f"http://127.0.0.1:{api_port}"
    proc = _spawn(["--gateway", str(config)] + (["--aligned"] if aligned else []), log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if len(_last_seen(url)) >= SERVERS * UNITS:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("not every counter seen within 120 s")
            time.sleep(0.5)
        time.sleep(3.0)  # settle
        p = psutil.Process(proc.pid)
        c0, t0 = p.cpu_times(), time.monotonic()
        time.sleep(CPU_WINDOW_S)
        c1, t1 = p.cpu_times(), time.monotonic()
        cpu = 100 * ((c1.user - c0.user) + (c1.system - c0.system)) / (t1 - t0)
        ages: list[float] = []
        end = time.monotonic() + AGE_WINDOW_S
        while time.monotonic() < end:
            seen = _last_seen(url)
            now = time.time()
            ages += [now - t for t in seen.values()]
            time.sleep(0.5)
        return cpu, _percentile(ages, 0.5), _percentile(ages, 0.99)
    finally:
        _stop(proc)


def run(opts: Options) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-counters-") as tmp:
        folder = Path(tmp)
        ports = [free_port() for _ in range(SERVERS)]
        sims = _spawn(["--serve", *map(str, ports)], folder / "sim.log")
        try:
            deadline = time.monotonic() + 60
            while "serving" not in (folder / "sim.log").read_text():
                if sims.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulators did not start: {(folder / 'sim.log').read_text()[-2000:]}")
                time.sleep(0.2)
            results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
            sim_cpu: list[float] = []
            for i in range(opts.runs):
                for aligned in (False, True) if i % 2 == 0 else (True, False):
                    api_port = free_port()
                    config = hall_yaml(folder / f"{i}-{int(aligned)}", ports, api_port)
                    s0 = psutil.Process(sims.pid).cpu_times()
                    t0 = time.monotonic()
                    results[aligned].append(measure(config, api_port, aligned, folder / "gateway.log"))
                    s1 = psutil.Process(sims.pid).cpu_times()
                    if not aligned:
                        sim_cpu.append(100 * (s1.user - s0.user + s1.system - s0.system) / (time.monotonic() - t0))
                    print(f"  run {i} {'aligned' if aligned else 'spread'}: {results[aligned][-1]}", file=sys.stderr)
        finally:
            _stop(sims)
    spread, aligned_ = results[False], results[True]

    def row(metric: str, unit: str, k: int, target: str) -> Row:
        a, b = [r[k] for r in spread], [r[k] for r in aligned_]
        return Row("counters", metric, unit, median(a), "aligned polls (before)", median(b), target, a, b)

    return [
        row("gateway CPU, 1,000 counters at 1 s", "% of a core", 0, "<= 10"),
        row("sample age p50", "s", 1, ""),
        row("sample age p99", "s", 2, "< 1.2"),
        Row("counters", "simulators' CPU (context)", "% of a core", median(sim_cpu), "", None, "", sim_cpu),
    ]


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        asyncio.run(_serve([int(p) for p in argv[1:]]))
        return 0
    if argv[:1] == ["--gateway"]:
        return _gateway(argv[1], "--aligned" in argv)
    print(__doc__)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(_main(sys.argv[1:]))
