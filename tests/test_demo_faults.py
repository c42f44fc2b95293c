"""The demo's simulators take faults as `hallgate sim hall`'s do (issue 22): a tester jams a lock or
cuts a counter with `hallgate sim fault` against the real `hallgate demo` process and the gateway
shows it over its API; a fault or device that does not exist answers in Chinese, listing what does."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.demo_support import Demo, running_demo
from tests.servers import Mosquitto, free_port
from tests.waits import wait_for

HALLGATE = Path(sys.executable).parent / "hallgate"  # the installed console script
DEADLINE_S = 60  # bounds each wait; the Modbus counter is declared offline after its failed polls


def fault(demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    """`hallgate sim fault ...` as a tester types it, against the demo's broker."""
    argv = [str(HALLGATE), "sim", "fault", *args, "--broker", f"127.0.0.1:{demo.mqtt_port}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def get(demo: Demo, path: str) -> Any:
    r = httpx.get(f"{demo.base}{path}", headers=demo.headers, timeout=10)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def test_a_tester_jams_a_lock_and_cuts_a_counter_in_the_demo_and_the_gateway_shows_both(tmp_path: Path) -> None:
    with running_demo(HALLGATE, tmp_path) as demo:
        banner = "".join(demo.banner)
        assert f"hallgate sim fault jam --device lb-1f --slot 3 --broker 127.0.0.1:{demo.mqtt_port}" in banner
        wait_for(
            lambda: all(get(demo, f"/api/v1/devices/{d}")["online"] for d in ("lb-1f", "pc-entrance")),
            timeout=DEADLINE_S,
            what="lb-1f and pc-entrance online",
        )

        # A lock jammed: the next unlock of its slot fails at the cabinet, which reports lock_fault.
        done = fault(demo, "jam", "--device", "lb-1f", "--slot", "3")
        assert done.returncode == 0 and "已注入故障 (applied) jam: lb-1f" in done.stdout, done.stdout + done.stderr
        r = httpx.post(
            f"{demo.base}/api/v1/lockboxes/lb-1f/slots/3/unlock",
            json={"reason": "市民取回手机"},
            headers={"Authorization": f"Bearer {demo.tokens['duty_manager']}", "Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert r.status_code == 409 and r.json()["error"] == "jammed", r.text

        def jammed() -> dict[str, Any] | None:
            d = get(demo, "/api/v1/devices/lb-1f")
            return d if "slot 3" in d["info"].get("jammed", ()) and d["health"] == "degraded" else None

        wait_for(jammed, timeout=DEADLINE_S, what="lb-1f's slot 3 jammed in its health")

        def alert() -> list[dict[str, Any]]:
            return [
                a
                for a in get(demo, "/api/v1/alerts")
                if a["rule"] == "jammed_lock" and a["device"] == "lb-1f" and a["state"] == "open"
            ]

        assert "slot 3" in wait_for(alert, timeout=DEADLINE_S, what="a jammed_lock alert")[0]["key"]

        # A counter cut off: it answers no poll, and the gateway says it is offline.
        done = fault(demo, "offline", "--device", "pc-entrance")
        assert done.returncode == 0 and "pc-entrance" in done.stdout, done.stdout + done.stderr
        wait_for(
            lambda: not (d := get(demo, "/api/v1/devices/pc-entrance"))["online"] and d["health"] == "offline",
            timeout=DEADLINE_S,
            what="pc-entrance offline",
        )
        # ... and back once the fault is cleared.
        assert fault(demo, "clear", "--device", "pc-entrance").returncode == 0
        wait_for(lambda: get(demo, "/api/v1/devices/pc-entrance")["online"], timeout=DEADLINE_S, what="back online")

        # What does not exist is refused in Chinese, with what does.
        melt = fault(demo, "melt", "--device", "lb-1f")
        assert melt.returncode == 2, melt.stdout + melt.stderr
        assert "错误: 没有这种故障 (unknown_fault): 'melt'" in melt.stderr, melt.stderr
        assert "设备 lb-1f (lockbox) 可用的故障: offline, flaky, slow, garbage, jam, door_open" in melt.stderr
        nowhere = fault(demo, "jam", "--device", "lb-9f", "--slot", "3")
        assert nowhere.returncode == 2 and "没有这台设备 (unknown_device): lb-9f" in nowhere.stderr, nowhere.stderr
        assert "lockbox: lb-1f, lb-2f" in nowhere.stderr and "people_counter: pc-entrance" in nowhere.stderr
        wrong = fault(demo, "wrap", "--device", "lb-1f")
        assert wrong.returncode == 2 and "设备 lb-1f (lockbox) 没有故障 wrap (fault_not_supported)" in wrong.stderr
        slot = fault(demo, "jam", "--device", "lb-1f", "--slot", "99")
        assert slot.returncode == 2 and "故障参数不对 (bad_fault): slot: 99 is not a slot of lb-1f" in slot.stderr
        rc, rest = demo.stop()
    assert rc == 0, rest
    assert "Traceback" not in rest


def test_the_fault_command_says_so_when_no_simulator_answers(mosquitto: Mosquitto) -> None:
    def run(port: int) -> subprocess.CompletedProcess[str]:
        argv = [str(HALLGATE), "sim", "fault", "jam", "--device", "lb-1f", "--slot", "3", "--timeout", "1"]
        return subprocess.run([*argv, "--broker", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)

    silent = run(mosquitto.port)  # a broker, but no simulator listening on it
    assert silent.returncode == 1 and "没有模拟器应答 (no_answer): 站点 demo-hall" in silent.stderr, silent.stderr
    nothing = run(free_port())  # no broker at all
    assert nothing.returncode == 1 and "连不上代理 (broker_unreachable)" in nothing.stderr, nothing.stderr
