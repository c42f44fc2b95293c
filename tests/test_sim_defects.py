"""The three defects of issue 11, each shown by a test that failed before the fix."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_sim.cli import main
from firmware_sim.common import STATE_ENV
from firmware_sim.kinds.rating_pad import RatingPad
from tests.servers import Mosquitto, free_port
from tests.sim_support import retained

ROOT = Path(__file__).resolve().parents[1]


def test_no_broker_is_an_error_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens here
    started = time.monotonic()
    rc = main(["device", "rating_pad", "--id", "rp-nb", "--broker", f"127.0.0.1:{port}", "--connect-timeout", "1"])
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert rc == 1
    assert "(running)" not in out
    assert f"1 秒内没有一台 MQTT 设备连上代理 127.0.0.1:{port}" in err
    assert "refused" in err.lower(), err  # the reason, not just "timeout"
    assert took < 5


def test_sigterm_publishes_the_shutdown_status_not_the_will(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "firmware_sim", "device", "lockbox", "--id", "lb-term"]
    cmd += ["--broker", f"127.0.0.1:{mosquitto.port}", "--state-dir", str(tmp_path), "--status-s", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    status = "hall/demo-hall/lockbox/lb-term/status"
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("运行中 (running)"):
                break
        assert json.loads(retained(mosquitto.port, status))["state"] == "online"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads(retained(mosquitto.port, status)) == {"state": "offline", "reason": "shutdown"}
    assert "汇总 (summary)" in out and "已停止 (stopped)" in out


def test_seq_survives_a_restart_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path))

    async def scenario() -> None:
        first = RatingPad("rp-flash", site="s1")
        assert [first.rate(5)["seq"] for _ in range(3)] == [0, 1, 2]
        first.seq.close()
        again = RatingPad("rp-flash", site="s1")  # a restart: no state folder given
        assert again.rate(5)["seq"] == 3
        again.seq.close()
        assert json.loads((tmp_path / "s1" / "rp-flash" / "seq.json").read_text()) == {"next_seq": 4}
        stateless = RatingPad("rp-flash", site="s1", state_dir=None)
        assert stateless.rate(5)["seq"] == 0

    asyncio.run(scenario())


def test_default_state_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from firmware_sim.common import default_state_root

    monkeypatch.delenv(STATE_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_root() == tmp_path / "hallgate-sim"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_root() == Path.home() / ".local" / "state" / "hallgate-sim"
