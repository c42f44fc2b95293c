"""A new user's first commands, as the README shows them, from a directory of their own."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_a_report_without_the_state_database_says_where_it_looked_in_chinese(tmp_path: Path) -> None:
    demo = ROOT / "configs" / "demo-hall.yaml"
    args = ["report", "-c", str(demo), "--kind", "day", "--period", "2026-12-06", "--out", "out"]
    r = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "状态数据库" in r.stderr and "不存在" in r.stderr and str(tmp_path) in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made, nothing renamed as corrupt


def test_the_district_as_the_readme_starts_it_prints_an_address_that_opens(tmp_path: Path) -> None:
    # The README's commands: two generated tokens, the example district.yaml (on a free port here).
    config = tmp_path / "district.yaml"
    text = (ROOT / "configs" / "district" / "district.yaml").read_text(encoding="utf-8")
    # No district store on this machine: the pages say so (a port nothing listens on, not 8428).
    text = text.replace("port: 8090", f"port: {free_port()}").replace(":8428", f":{free_port()}")
    config.write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISTRICT_TOKEN_MANAGER": secrets.token_urlsafe(24),
        "DISTRICT_TOKEN_WALL": secrets.token_urlsafe(24),
    }
    cmd = [sys.executable, "-m", "gateway.cli", "district", "-c", str(config)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as p:
        try:
            assert p.stdout is not None
            said = p.stdout.readline()
            url = re.search(r"页面 \(pages\) (\S+)", said)
            assert url and "0.0.0.0" not in said, said
            first = httpx.get(url[1], timeout=10, follow_redirects=False)
            assert first.status_code == 303 and first.headers["location"] == "/login"
            signed = httpx.post(f"{url[1]}login", data={"token": env["DISTRICT_TOKEN_WALL"]}, timeout=10)
            assert signed.status_code == 303 and signed.headers["location"] == "/"
            page = httpx.get(url[1], cookies=signed.cookies, timeout=30)
            assert page.status_code == 503 and "时序库无法访问" in page.text
        finally:
            p.terminate()
