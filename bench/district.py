"""366 sites forwarding into one single-node victoria-metrics through vmauth (issue 25).

`python -m bench district [--records SITES] [--minutes M]` (default 366 sites, 3 minutes; the
soak's default --minutes 60 is taken as "not given"). The district store is Debian's
`victoria-metrics` (-dedup.minScrapeInterval=1ms, as README operations says; -search.latencyOffset=0s
so the count at the end sees the last seconds) behind `vmauth`, whose configuration
`hallgate district-auth` makes from a district.yaml of the sites (one login per site). The load is
`hallgate sim district --store` (firmware_sim/district_load.py) in its own process: every site's
series at their real rates, a write a second per site, each site's link cut for CUT_S seconds at a
random time in the run's middle half, the backlog sent after it at the catch-up rate.

Measured over the whole run: victoria-metrics', vmauth's and the simulator's CPU % (psutil
user+system over wall; 100 % = one core) and peak RSS; points a second stored; then, after the
simulator drained every backlog, the store's count of each site's lines (`*_seq` samples by
`site`) against what the site made and sent: `sites_exact` is how many agree exactly. One run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from bench.common import Options, PeakRSS, Row
from firmware_sim.district_load import generated_sites, stored_by_site
from gateway.district.auth import auth_files
from gateway.district.config import DistrictConfig
from tests.servers import VictoriaMetrics, VMAuth

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITES, DEFAULT_MINUTES, CUT_S = 366, 3.0, 30.0
CATCH_UP_SITES, CATCH_UP_CUT_S, CATCH_UP_RUN_S = 50, 3600.0, 60.0


class Cpu:
    """A process's CPU seconds between start and stop (user + system)."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.t0, self.c0 = time.monotonic(), sum(self.proc.cpu_times()[:2])
        self.pct = 0.0

    def stop(self) -> float:
        used = sum(self.proc.cpu_times()[:2])
        self.pct = 100 * (used - self.c0) / (time.monotonic() - self.t0)
        return self.pct


def district(folder: Path, n: int, backend: str) -> tuple[Path, dict[str, str]]:
    env = {"PW_VIEW": "view-pw"}
    sites = []
    for i, s in enumerate(generated_sites(n)):
        env[f"PW_SITE_{i}"] = f"pw-{s.id}-{i}"
        sites.append({"id": s.id, "name": s.id, "level": s.level, "password_env": f"PW_SITE_{i}"})
    raw = {
        "name": "bench district",
        "store": {"url": "http://127.0.0.1:1", "backend": backend, "username": "view", "password_env": "PW_VIEW"},
        "sites": sites,
    }
    path = folder / "district.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")  # JSON is YAML
    for name, text in auth_files(DistrictConfig.model_validate(raw), env).items():
        (folder / name).write_text(text, encoding="utf-8")
    return path, env


def run(opts: Options) -> list[Row]:
    n = opts.records or DEFAULT_SITES
    minutes = DEFAULT_MINUTES if opts.minutes == Options.minutes else opts.minutes
    rows = _phase("district", n, minutes * 60, ["--cut-s", str(CUT_S)])
    back = ["--backlog-sites", str(CATCH_UP_SITES), "--backlog-s", str(CATCH_UP_CUT_S)]
    later = _phase("district catch-up", n, CATCH_UP_RUN_S, back)
    for r in later:
        r.metric = f"catch-up: {r.metric}"
    return rows + later


def _phase(name: str, n: int, seconds: float, extra: list[str]) -> list[Row]:
    """One run on a fresh victoria-metrics and vmauth: the rows named `name`."""
    with tempfile.TemporaryDirectory(prefix="bench-district-") as tmp:
        root = Path(tmp)
        (root / "vm").mkdir()
        (root / "vmauth").mkdir()
        vm = VictoriaMetrics(root / "vm", ["-search.latencyOffset=0s", "-search.disableCache"])
        vm.start()
        try:
            path, env = district(root, n, vm.url)
            vmauth = VMAuth(root / "vmauth", root / "vmauth.yml")
            vmauth.start()
            try:
                return _measure(name, root, path, env, vm, vmauth, n, seconds, extra)
            finally:
                vmauth.stop()
        finally:
            vm.stop()


def _measure(
    b: str,
    root: Path,
    path: Path,
    env: dict[str, str],
    vm: VictoriaMetrics,
    vmauth: VMAuth,
    n: int,
    seconds: float,
    extra: list[str],
) -> list[Row]:
    report_path = root / "report.json"
    cmd = [sys.executable, "-m", "firmware_sim", "district", "--sites", str(n), "--store", vmauth.url]
    cmd += ["--district-file", str(path), "--seconds", str(seconds), "--report", str(report_path), *extra]
    assert vm.proc is not None and vmauth.proc is not None
    cpus = [Cpu(vm.proc.pid), Cpu(vmauth.proc.pid)]
    with PeakRSS(vm.proc.pid, 0.5) as vm_rss, PeakRSS(vmauth.proc.pid, 0.5) as auth_rss:
        sim = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=sys.stderr)
        sim_cpu = Cpu(sim.pid)
        sim_rss = PeakRSS(sim.pid, 0.5).__enter__()
        # The sim's CPU is read just before it ends (a finished process has no times left to read).
        while sim.poll() is None and time.monotonic() - sim_cpu.t0 < seconds - 2:
            time.sleep(1)
        sim_pct = sim_cpu.stop()
        rc = sim.wait()
        sim_rss.__exit__()
        vm_pct, auth_pct = (c.stop() for c in cpus)
    report = json.loads(report_path.read_text())
    httpx.get(f"{vm.url}/internal/force_flush", timeout=60)
    made = {s: r["made"] for s, r in report["sites"].items()}
    stored = stored_by_site(vmauth.url, report, auth=("view", "view-pw"))
    deadline = time.monotonic() + 30  # series new in the hour become searchable within seconds
    while stored != made and time.monotonic() < deadline:
        time.sleep(1)
        stored = stored_by_site(vmauth.url, report, auth=("view", "view-pw"))
    sites = report["sites"]
    exact = sum(1 for s, r in sites.items() if stored.get(s) == r["made"] == r["sent"])
    missing = {s: (r["made"], stored.get(s, 0)) for s, r in sites.items() if stored.get(s) != r["made"]}
    if missing:
        print(f"district: sites whose count differs (made, stored): {dict(list(missing.items())[:10])}", flush=True)
    wall = report["played_s"] + report["drained_s"]
    print(
        f"district: rc {rc}; {report['made']} made, {report['sent']} sent, {sum(stored.values())} stored; "
        f"{exact}/{len(sites)} sites exact",
        flush=True,
    )
    catch_up = report["catch_up"]
    more = []
    if catch_up["sites"]:
        more = [
            Row.of(b, "sites back from a cut", "sites", [catch_up["sites"]]),
            Row.of(b, "their backlog", "points", [catch_up["points_behind"]]),
            Row.of(b, "all caught up after", "s", [catch_up["all_caught_up_s"]]),
        ]
    print(f"{b}: points stored a second, from the start: {report['points_per_s'][:40]}", flush=True)
    return [
        *more,
        Row.of(b, "peak write rate (a second)", "points/s", [report["peak_points_per_s"]]),
        Row.of(b, "sites", "sites", [len(sites)]),
        Row.of(b, "sites exact (stored = made = sent)", "sites", [exact], target=f"{len(sites)}"),
        Row.of(b, "points made (nominal rate x time)", "points", [report["made"]]),
        Row.of(b, "points stored", "points", [sum(stored.values())]),
        Row.of(b, "nominal points/s", "points/s", [report["nominal_points_per_s"]]),
        Row.of(b, "stored points/s over the run", "points/s", [sum(stored.values()) / wall]),
        Row.of(b, "backlogs drained after the end", "s", [report["drained_s"]]),
        Row.of(b, "victoria-metrics CPU", "% of a core", [vm_pct]),
        Row.of(b, "victoria-metrics peak RSS", "MiB", [vm_rss.peak / 2**20]),
        Row.of(b, "vmauth CPU", "% of a core", [auth_pct]),
        Row.of(b, "vmauth peak RSS", "MiB", [auth_rss.peak / 2**20]),
        Row.of(b, "load generator CPU", "% of a core", [sim_pct]),
        Row.of(b, "load generator peak RSS", "MiB", [sim_rss.peak / 2**20]),
    ]
