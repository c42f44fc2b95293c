"""What a hall installs: the `hallgate` command's version, the systemd unit (checked by
systemd-analyze itself) and the hall template with a site's overrides."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from gateway.paths import CONFIGS_DIR

UNIT = CONFIGS_DIR / "systemd" / "hallgate@.service"
HALLGATE = Path(sys.executable).parent / "hallgate"  # the installed console script


def test_hallgate_version() -> None:
    from importlib.metadata import version

    r = subprocess.run([HALLGATE, "--version"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout.strip()) == (0, f"hallgate {version('hallgate')}")


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run .ci/setup (Debian package systemd)"
    text = UNIT.read_text()
    # verify checks that ExecStart's program exists: point it at this checkout's hallgate.
    (tmp_path / UNIT.name).write_text(text.replace("/opt/hallgate/bin/hallgate", str(HALLGATE)))
    r = subprocess.run(
        [analyze, "verify", str(tmp_path / "hallgate@hall-07.service")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr  # warnings too: an unknown key is silently ignored
    for line in (
        "Restart=on-failure",
        "User=hallgate",
        "StateDirectory=hallgate/%i",
        "LogsDirectory=hallgate/%i",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ):
        assert line in text.splitlines(), line


def test_the_hall_template_with_a_sites_overrides_checks_out() -> None:
    env = dict(os.environ, HALLGATE_SITE="hall-07")
    for line in (CONFIGS_DIR / "systemd" / "hall-07.env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    r = subprocess.run(
        [HALLGATE, "check-config", str(CONFIGS_DIR / "hall-template.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "site hall-07, 3 zones, 30 devices" in r.stdout
    assert "note:" not in r.stdout  # every secret the template names is in the example
