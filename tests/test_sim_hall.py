"""The hall/district API, the CLI, and the simulator's independence from the gateway."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer import FramerType

from firmware_sim.cli import main
from firmware_sim.hall import DistrictSimulator, HallConfigError, HallSimulator, load_hall
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto, free_port
from tests.sim_support import MqttWatcher, free_ports, on, retained

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo-hall.yaml"


def test_firmware_sim_never_imports_gateway_or_drivers() -> None:
    sources = sorted((ROOT / "firmware_sim").rglob("*.py"))
    assert len(sources) >= 10
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module",
                "__import__",
            ):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            for name in names:
                assert name.split(".")[0] not in ("gateway", "drivers"), f"{path} imports {name}"


def test_demo_hall_config_groups_modbus_lines() -> None:
    config = load_hall(DEMO)
    assert config.site == "demo-hall" and len(config.devices) == 31
    sim = HallSimulator(DEMO)
    lines = {(b.port, b.framer): sorted(b.units) for b in sim.buses}
    assert lines == {(15020, "socket"): [1, 2], (15021, "socket"): [1], (15022, "rtu"): [1, 2, 3]}
    assert sim.device("rp-w07").topic == "hall/demo-hall/rating/rp-w07"
    assert sim.device("rp-w07").window == "W07" and sim.device("lb-2f").client_id == "lockbox-lb-2f"


def test_the_demo_queue_drives_every_rating_pad_and_they_rate_nothing_else() -> None:
    sim = HallSimulator(DEMO, state_dir=None)
    queue = sim.device("qs-hall")
    pads = {f"W{n:02d}": sim.device(f"rp-w{n:02d}") for n in range(1, 21)}
    assert queue.config.windows == tuple(pads) and queue.pads() == pads  # what its run() does first
    for pad in pads.values():
        pad.spontaneous()  # what a free pad does rate_per_min times a minute: a made-up rating
        assert (pad.driven_by, pad.backlog) == ("qs-hall", 0)


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: x\ndevices:\n  - {id: a, kind: rating_pad}\n  - {id: b, kind: toaster}\n")
    with pytest.raises(HallConfigError, match=r"bad.yaml: devices\[1\] \(b\).kind"):
        load_hall(bad)
    with pytest.raises(HallConfigError, match=r"devices\[0\] \(a\).sim: unknown options \['colour'\]"):
        HallSimulator({"site": "x", "devices": [{"id": "a", "kind": "lockbox", "sim": {"colour": "red"}}]})
    with pytest.raises(HallConfigError, match=r"devices\[0\] \(c\).modbus"):
        load_hall({"site": "x", "devices": [{"id": "c", "kind": "people_counter"}]})


def test_demo_hall_runs_on_mqtt_311_and_stops_cleanly(mosquitto: Mosquitto) -> None:
    base = free_ports(3)

    async def scenario(watch: MqttWatcher) -> float:
        sim = HallSimulator(
            DEMO,
            mqtt=MqttSettings(port=mosquitto.port, protocol="3.1.1"),
            heartbeat_s=0.5,
            rate_per_min=60,
            modbus_port_base=base,
            seed=7,
        )
        async with sim:
            await sim.wait_online(10)
            # 20 pads, 2 lockboxes, 2 attendance machines, the queue system
            online = await watch.wait(on("/status", state="online"), count=25)
            assert len({ln.topic for ln in online}) == 25
            client = AsyncModbusTcpClient("127.0.0.1", port=base + 2, framer=FramerType.RTU, timeout=2, retries=0)
            await client.connect()
            rr = await client.read_input_registers(0, count=8, device_id=3)
            client.close()
            assert not rr.isError() and rr.registers[5] == 105
            sim.device("lb-1f").force_open(2)
            await watch.wait(on("lockbox/lb-1f/event", slot=2, type="forced_open"))
            started = time.monotonic()
        return time.monotonic() - started

    with MqttWatcher(mosquitto.port, "hall/demo-hall/#") as watch:
        took = asyncio.run(scenario(watch))
    assert took < 2.0, f"stopping took {took:.2f} s"
    for topic in ("hall/demo-hall/rating/rp-w20/status", "hall/demo-hall/attendance/att-2f/status"):
        assert json.loads(retained(mosquitto.port, topic)) == {"state": "offline", "reason": "shutdown"}


def test_district_of_halls_on_one_broker(mosquitto: Mosquitto) -> None:
    base = free_ports(3)

    async def scenario(watch: MqttWatcher) -> None:
        district = DistrictSimulator(3, modbus_port_base=base, mqtt=MqttSettings(port=mosquitto.port), rate_per_min=0)
        async with district:
            for hall in district.halls:
                await hall.wait_online(10)
            online = await watch.wait(on("/status", state="online"), count=12)
            assert {ln.topic.split("/")[1] for ln in online} == {"village-001", "village-002", "village-003"}
            counter = district.hall(3).device("pc-door-003")
            counter.add(42)
            client = AsyncModbusTcpClient("127.0.0.1", port=base + 2, timeout=2, retries=0)
            await client.connect()
            rr = await client.read_input_registers(0, count=2, device_id=1)
            client.close()
            assert rr.registers == [0, 42]

    with MqttWatcher(mosquitto.port, "hall/#") as watch:
        asyncio.run(scenario(watch))


def test_cli_help_and_device_with_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "district" in capsys.readouterr().out
    port = free_port()
    assert main(["device", "people_counter", "--id", "pc-1", "--port", str(port), "--duration", "0.2"]) == 0
    out = capsys.readouterr().out
    assert f"Modbus TCP 127.0.0.1:{port} unit 1" in out and "stopped" in out
    assert main(["hall", "-c", "/nonexistent.yaml"]) == 2


def test_cli_ctrl_c_stops_within_two_seconds(mosquitto: Mosquitto) -> None:
    cmd = [
        sys.executable,
        "-m",
        "firmware_sim",
        "device",
        "rating_pad",
        "--id",
        "rp-cli",
        "--window",
        "W09",
        "--broker",
        f"127.0.0.1:{mosquitto.port}",
        "--mqtt-protocol",
        "3.1.1",
        "--heartbeat-s",
        "0.2",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("运行中 (running)") or not line:
                break
        assert any("hall/demo-hall/rating/rp-cli/#" in s for s in seen), seen
        status = "hall/demo-hall/rating/rp-cli/status"
        deadline = time.monotonic() + 5
        while json.loads(retained(mosquitto.port, status) or "{}").get("state") != "online":
            assert time.monotonic() < deadline, "device never came online"
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        rc = proc.wait(timeout=5)
        assert time.monotonic() - started < 2.0
        assert rc == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(retained(mosquitto.port, status)) == {"state": "offline", "reason": "shutdown"}
