"""`hallgate sim district --store URL`: ten sites' forwarding played through a real vmauth (made by
`hallgate district-auth`) into a real victoria-metrics, each site's link cut for a while: the
store holds exactly what each site made, under each site's own label and level."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firmware_sim import district_load
from firmware_sim.cli import main as sim
from gateway.cli import main as hallgate
from tests.servers import VictoriaMetrics, VMAuth

FRESH = ["-search.latencyOffset=0s", "-search.disableCache"]  # a query sees what was just written

SITES = [("centre", "centre")] + [(f"town-{i:02d}", "town") for i in (1, 2)] + [(f"v-{i}", "village") for i in range(7)]


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    (tmp_path / "vm").mkdir()
    vm = VictoriaMetrics(tmp_path / "vm", FRESH)
    vm.start()
    yield vm
    vm.stop()


def test_ten_sites_with_link_cuts_land_exactly_under_their_own_labels(
    tmp_path: Path, victoria_metrics: VictoriaMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = []
    for i, (site, level) in enumerate(SITES):
        monkeypatch.setenv(f"PW_{i}", f"pw-{site}")
        rows.append(f"  - {{id: {site}, name: 站点{i}, level: {level}, password_env: PW_{i}}}")
    monkeypatch.setenv("PW_VIEW", "pw-view")
    district = tmp_path / "district.yaml"
    district.write_text(
        f'name: 测试区\nstore: {{url: "http://x", backend: "{victoria_metrics.url}", username: view, '
        "password_env: PW_VIEW}\nsites:\n" + "\n".join(rows) + "\n"
    )
    assert hallgate(["district-auth", "-c", str(district), "--out", str(tmp_path / "auth")]) == 0
    (tmp_path / "vmauth").mkdir()
    vmauth = VMAuth(tmp_path / "vmauth", tmp_path / "auth" / "vmauth.yml")
    vmauth.start()
    try:
        report_path = tmp_path / "report.json"
        argv = ["district", "--sites", "10", "--store", vmauth.url, "--district-file", str(district)]
        argv += ["--seconds", "4", "--cut-s", "1.5", "--report", str(report_path)]
        assert sim(argv) == 0
        report = json.loads(report_path.read_text())
        httpx.get(f"{victoria_metrics.url}/internal/force_flush", timeout=30)
        made = {site: r["made"] for site, r in report["sites"].items()}
        # Series new in the current hour become searchable within seconds (a periodic update):
        # read until the counts agree or 30 s have passed, then compare what was read last.
        deadline = time.monotonic() + 30
        stored = district_load.stored_by_site(vmauth.url, report, auth=("view", "pw-view"))
        while stored != made and time.monotonic() < deadline:
            time.sleep(0.5)
            stored = district_load.stored_by_site(vmauth.url, report, auth=("view", "pw-view"))
    finally:
        vmauth.stop()
    assert all(r["cut"] is not None and r["left"] == 0 for r in report["sites"].values())
    assert sum(made.values()) > 10 * 4  # every site made lines every second (a counter reads at 1 s)
    assert stored == made
    series = victoria_metrics.export('{__name__="heartbeat_seq"}')
    assert {(s["metric"]["site"], s["metric"]["level"]) for s in series} <= set(SITES)


def test_the_load_generator_imports_nothing_of_the_gateway() -> None:
    tree = ast.parse(Path(district_load.__file__).read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] in ("gateway", "drivers")]
