"""A new user's first commands, as the README shows them, from a directory of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
