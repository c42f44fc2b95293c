"""The demo's discipline scenario (issue 23): a real `hallgate demo` plays it once by itself (a clerk
away from the post for 20 minutes, another's phone out of its slot without an unlock), a tester
replays the first with `hallgate sim fault leave-post`, and the discipline ledger's API lists the
detected violations within a bounded wait.

The demo's clock is the real one, so the hall's day is moved for the test (a time zone in which it
is mid-morning now, every weekday working, no lunch break): the test passes whenever it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.demo_support import running_demo
from tests.waits import wait_for

HALLGATE = Path(sys.executable).parent / "hallgate"
DEADLINE_S = 60  # the demo's minute: the ledger checks every 10 s once the punches are in


def mid_morning_zone(now: datetime) -> str:
    """An Etc/GMT zone in which it is 10:xx now (the scenario's 30 minutes lie within the day)."""
    offset = (10 - now.hour + 12) % 24 - 12  # hours east of UTC, -12..11
    return f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-8 is UTC+8


def test_the_zone_puts_the_hall_in_its_morning() -> None:
    for hour in range(24):
        now = datetime(2026, 12, 7, hour, 30, tzinfo=UTC)
        assert now.astimezone(ZoneInfo(mid_morning_zone(now))).hour == 10, hour


def test_the_demo_shows_a_clerk_away_and_a_phone_out_on_the_ledger(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "HALLGATE_TIMEZONE": mid_morning_zone(datetime.now(UTC)),
        "HALLGATE_WORKING_HOURS__DAYS": "[mon, tue, wed, thu, fri, sat, sun]",
        "HALLGATE_WORKING_HOURS__START": "'00:00'",  # quoted: YAML reads 00:00 as a number
        "HALLGATE_WORKING_HOURS__END": "'23:59'",
        "HALLGATE_DISCIPLINE__BREAKS": "[]",
    }
    with running_demo(HALLGATE, tmp_path, env) as demo:
        banner = "".join(demo.banner)
        assert "违规台账演示 (discipline): 现在自动演示一次" in banner, banner
        leave = "hallgate sim fault leave-post --staff S0003 --cover S0004 --minutes 20"
        assert f"{leave} --broker 127.0.0.1:{demo.mqtt_port}" in banner
        assert "hallgate sim fault phone-out --device lb-1f --slot 6 --minutes 10" in banner
        # The same by hand, as a tester types it: 周杰 (W05, 吴敏 his B post) left 20 minutes ago.
        argv = [str(HALLGATE), "sim", "fault", "leave-post", "--device", "att-2f", "--staff", "S0009"]
        argv += ["--cover", "S0010", "--minutes", "20", "--broker", f"127.0.0.1:{demo.mqtt_port}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and "已注入故障 (applied) leave_post: att-2f" in done.stdout, done.stderr

        def found() -> dict[str, dict[str, Any]] | None:
            r = httpx.get(
                f"{demo.base}/api/v1/violations", params={"state": "detected"}, headers=demo.headers, timeout=10
            )
            assert r.status_code == 200, r.text
            by = {(v["kind"], v["staff"]): v for v in r.json()}
            if ("away", "S0003") in by and ("phone", "S0006") in by and ("away", "S0009") in by:
                return {"away": by["away", "S0003"], "phone": by["phone", "S0006"], "by hand": by["away", "S0009"]}
            return None

        got = wait_for(found, timeout=DEADLINE_S, what="the away and phone violations on the ledger")
        away, phone = got["away"], got["phone"]
        assert away["window"] == "W02" and got["by hand"]["window"] == "W05"
        assert [e["event"] for e in phone["evidence"]][:2] == ["phone_out", "punch"]
        assert phone["evidence"][0]["slot"] == 6 and phone["window"] == "W03"
        rc, rest = demo.stop()
    assert rc == 0, rest
    assert "Traceback" not in rest
