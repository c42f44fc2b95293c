"""`pip install .` (a wheel, not the editable checkout) gives a working `hallgate`.

The wheel is built from a copy of the source tree and installed into a fresh virtualenv; every
command then runs from a folder outside the repository, so the code and data can only come from
the wheel. Its dependencies are not downloaded again (most of this test's time): the virtualenv
reads them from the test environment's site-packages, whose .pth files, the editable checkout's
among them, it does not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.demo_support import KINDS, running_demo

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _source_copy(to: Path) -> Path:
    """The files git would commit (tracked and new, not ignored): no build/ or egg-info leftovers,
    and the build never writes into the working tree others use."""
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.split("\0")):
        src = REPO / name
        if src.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            (to / name).write_bytes(src.read_bytes())
    return to


@pytest.mark.timeout(600)  # a cold pip cache downloads every dependency
def test_the_installed_wheel_checks_configs_and_runs_the_demo(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src, cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("hallgate-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    pip = (sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "--disable-pip-version-check")
    _run(*pip, "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    # The dependencies: the test environment's site-packages as a plain path after the venv's own
    # (a path in a .pth file is not a site folder: its __editable__ .pth is not run).
    site = _run(venv / "bin" / "python", "-c", "import site; print(site.getsitepackages()[0])", cwd=tmp_path)
    (Path(site.strip()) / "test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(*pip, "check", cwd=tmp_path)  # every requirement the wheel declares is there

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = _run(
        venv / "bin" / "python",
        "-c",
        "import gateway, gateway.paths as p; print(gateway.__file__); print(p.DEMO_CONFIG)",
        cwd=elsewhere,
        env=env,
    ).splitlines()
    package, demo_config = Path(where[0]), Path(where[1])
    assert venv in package.parents, f"gateway imported from {package}, not from the wheel"
    assert venv in demo_config.parents and demo_config.is_file()

    out = _run(venv / "bin" / "hallgate", "check-config", demo_config, cwd=elsewhere, env=env)
    assert "配置无误 (ok)：站点 demo-hall" in out and "31 台设备" in out, out

    with running_demo(venv / "bin" / "hallgate", elsewhere, env) as demo:
        assert httpx.get(f"{demo.base}/healthz").json() == {"status": "ok"}
        ds = demo.wait_all_kinds_online()
        assert len(ds) == 31 and {d["kind"] for d in ds if d["online"]} == KINDS
        assert "hallgate" in httpx.get(f"{demo.base}/").text  # the dashboard, from the wheel
        assert httpx.get(f"{demo.base}/docs-assets/swagger-ui.css").status_code == 200
        # the kinds' page fragments, from their packages in the wheel
        fragments = [
            f
            for k in httpx.get(f"{demo.base}/api/v1/kinds", headers=demo.headers).json()
            for f in k["fragments"].values()
        ]
        assert fragments and all(httpx.get(f"{demo.base}{f['script']}").status_code == 200 for f in fragments)
        rc, rest = demo.stop()
    assert rc == 0 and "hallgate: 已停止 (stopped)" in rest and "Traceback" not in rest, rest
