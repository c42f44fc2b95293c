"""Unlock latency: from the API call to the confirmed outcome, 20 requests at once.

The gateway runs as `hallgate run` in its own process against a real Mosquitto; the simulated
lockbox (MQTT) and pickup-locker board (a pymodbus server) run in this process with no pulse or
release time of their own (the lock answers at once, the door springs open at the pulse), so
the figures are the gateway's, the broker's and the Modbus line's, not the lock's.

- lockbox: POST /lockboxes/lb-1/slots/{1..20}/unlock at once (staff, outside working hours),
  confirmed by each slot's ack.
- locker: POST /lockers/locker-1/pickup with 20 codes at once (the kiosk), each confirmed by
  reading the door sensor back after the pulse (20 doors on one line: one request in flight).

Baselines, same run: the same 20 round trips without the gateway: a bare MQTT client publishing
the 20 commands and awaiting the 20 acks; a bare pymodbus client writing the 20 coils and
reading each door back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from pymodbus.client import AsyncModbusTcpClient

from bench.common import Options, Row, median
from bench.rawhttp import RawHttp, Reply
from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto, free_port

CONCURRENT = 20
# BENCH_PROFILE=FILE: the gateway runs under cProfile and writes its profile there
PROFILE = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
NODELAY_BROKER = os.environ.get("BENCH_BROKER_NODELAY", "1") != "0"
CABINETS = 5  # the second lockbox case spreads the 20 over five cabinets (a large hall has several)
ROUNDS = 10  # per run: 200 samples of each
STAFF = "bench-staff-token-0123456789abcdef"
KIOSK = "bench-kiosk-token-0123456789abcdef"


def _hall(folder: Path, broker: Mosquitto, api_port: int, modbus_port: int) -> Path:
    path = folder / "hall.yaml"
    cabinets = "\n".join(
        f"  - {{id: lb-{n}, kind: lockbox, profile: ref-lockbox, slots: 24}}" for n in range(1, CABINETS + 1)
    )
    path.write_text(f"""
site: bench
working_hours: {{days: []}}
api:
  port: {api_port}
  tokens:
    - {{role: staff, env: BENCH_TOKEN_STAFF}}
    - {{role: kiosk, env: BENCH_TOKEN_KIOSK, locker: locker-1}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite}}
lockers: {{lockout_failures: 1000}}
devices:
{cabinets}
  - {{id: locker-1, kind: pickup_locker, profile: ref-pickup-locker, poll_interval_s: 0.2,
      modbus: {{host: 127.0.0.1, port: {modbus_port}, unit: 1}},
      sim: {{open_delay_s: 0, door_close_after_s: 0.2, items_ratio: 0}}}}
""")
    return path


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _timed(coro: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    r = await coro
    return (time.perf_counter() - t) * 1000, r


async def _wait(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark setup: condition not reached")
        await asyncio.sleep(0.02)


def _targets(cabinets: int) -> list[tuple[str, int]]:
    """(lockbox, slot) of the 20 requests, spread over the first `cabinets` cabinets."""
    return [(f"lb-{i % cabinets + 1}", i // cabinets + 1) for i in range(CONCURRENT)]


async def _lockbox_round(http: RawHttp, cabinets: int) -> list[float]:
    async def one(device: str, slot: int) -> tuple[float, Reply]:
        headers = {"Authorization": f"Bearer {STAFF}", "Idempotency-Key": uuid.uuid4().hex}
        return await _timed(
            http.post(f"/api/v1/lockboxes/{device}/slots/{slot}/unlock", json={"reason": "bench"}, headers=headers)
        )

    out = await asyncio.gather(*(one(d, s) for d, s in _targets(cabinets)))
    bad = [r.text for _, r in out if r.status_code != 200]
    if bad:
        raise RuntimeError(f"lockbox unlock failed: {bad[:3]}")
    return [ms for ms, _ in out]


async def _locker_round(http: RawHttp, board: Any) -> list[float]:
    staff = {"Authorization": f"Bearer {STAFF}"}
    codes = []
    for door in range(1, CONCURRENT + 1):  # setup, not timed: an item in each door
        r = await http.post(
            f"/api/v1/lockers/locker-1/doors/{door}/deposit", json={"item": "x", "applicant": "y"}, headers=staff
        )
        if r.status_code != 200:
            raise RuntimeError(f"deposit failed: {r.text}")
        codes.append(r.json()["pickup_code"])
    await _wait(lambda: not any(board.door_open[:CONCURRENT]) and all(board.items[:CONCURRENT]))

    async def one(code: str) -> tuple[float, Reply]:
        headers = {"Authorization": f"Bearer {KIOSK}"}
        return await _timed(http.post("/api/v1/lockers/locker-1/pickup", json={"code": code}, headers=headers))

    out = await asyncio.gather(*(one(c) for c in codes))
    bad = [r.text for _, r in out if r.status_code != 200]
    if bad:
        raise RuntimeError(f"pickup failed: {bad[:3]}")
    # Not timed: the doors shut and the gateway's polls close the items' records.
    deadline = time.monotonic() + 15
    while True:
        r = await http.get("/api/v1/lockers/locker-1/items", headers=staff)
        if not [i for i in r.json() if i["state"] != "collected"]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark: items not collected")
        await asyncio.sleep(0.05)
    return [ms for ms, _ in out]


class InstantLockboxes:
    """Lockbox cabinets that answer every command at once (a paho client on its own thread, Nagle
    off): the MQTT figures are then the gateway's and the broker's, not a simulated lock's.

    (The reference simulator acks one command at a time, each after its PUBACK, on the bench's
    busy event loop: 20 at once took it 45-135 ms alone.)
    """

    def __init__(self, port: int, cabinets: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-lockboxes-{uuid.uuid4().hex[:6]}")
        self.port, self.cabinets = port, cabinets
        self.client.on_connect = self._connected
        self.client.on_message = self._command
        self.executed = 0

    def _connected(self, client: paho.Client, *_: Any) -> None:
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ts = datetime.now().astimezone().isoformat(timespec="milliseconds")
        for n in range(1, self.cabinets + 1):
            status = {"state": "online", "fw": "1.0", "model": "bench", "ts": ts}
            client.publish(f"hall/bench/lockbox/lb-{n}/status", json.dumps(status), qos=1, retain=True)
        client.subscribe("hall/bench/lockbox/+/cmd", qos=1)

    def _command(self, client: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        cmd = json.loads(msg.payload)
        self.executed += 1
        ack: dict[str, Any] = {"id": cmd["id"], "ok": True}
        if cmd.get("op") == "unlock":
            ack["slot"] = cmd["slot"]
        else:  # the snapshot the gateway asks for when a cabinet comes online
            ack["slots"] = []
        client.publish(msg.topic.rsplit("/", 1)[0] + "/ack", json.dumps(ack), qos=1)

    def __enter__(self) -> InstantLockboxes:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _mqtt_baseline(port: int, cabinets: int) -> list[float]:
    """The same 20 unlocks straight to the lockboxes, acks awaited: broker and devices alone
    (a paho client on its own thread, Nagle off, like the answering cabinets)."""
    subscribed, done = threading.Event(), threading.Event()
    sent: dict[str, float] = {}
    took: list[float] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{uuid.uuid4().hex[:6]}")

    def connected(c: paho.Client, *_: Any) -> None:
        c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.subscribe("hall/bench/lockbox/+/ack", qos=1)

    def ack(c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        started = sent.pop(json.loads(msg.payload)["id"], None)
        if started is not None:
            took.append((time.perf_counter() - started) * 1000)
            if len(took) == CONCURRENT:
                done.set()

    client.on_connect = connected
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = ack
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        subscribed.wait(5)
        for device, slot in _targets(cabinets):
            cmd_id = uuid.uuid4().hex
            sent[cmd_id] = time.perf_counter()
            client.publish(
                f"hall/bench/lockbox/{device}/cmd", json.dumps({"id": cmd_id, "op": "unlock", "slot": slot}), qos=1
            )
        if not done.wait(10):
            raise TimeoutError("bare MQTT round trips not answered")
    finally:
        client.loop_stop()
        client.disconnect()
    return took


async def _api_floor(http: RawHttp) -> list[float]:
    """20 authenticated GETs at once: what any request costs through this API, doing nothing."""
    headers = {"Authorization": f"Bearer {STAFF}"}
    out = await asyncio.gather(*(_timed(http.get("/api/v1/occupancy", headers=headers)) for _ in range(CONCURRENT)))
    return [ms for ms, _ in out]


async def _modbus_baseline(port: int, board: Any) -> list[float]:
    """20 coil pulses and door read-backs from a bare client on one connection, 20 at once."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1)
    await client.connect()
    lock = asyncio.Lock()  # one request in flight, as on a real line

    async def one(door: int) -> float:
        t = time.perf_counter()
        async with lock:
            await client.write_coil(door, True, device_id=1)
        while True:
            async with lock:
                bits = (await client.read_discrete_inputs(0, count=24, device_id=1)).bits
            if bits[door]:
                return (time.perf_counter() - t) * 1000

    try:
        took = await asyncio.gather(*(one(d) for d in range(CONCURRENT)))
    finally:
        client.close()
    await _wait(lambda: not any(board.door_open[:CONCURRENT]))
    for door in range(CONCURRENT):  # the simulated doors toggle their item on opening: empty them again
        board.take_item(door)
    return list(took)


async def _run_once(folder: Path, broker: Mosquitto) -> dict[str, list[float]]:
    api_port, modbus_port = free_port(), free_port()
    hall = _hall(folder, broker, api_port, modbus_port)
    env = dict(os.environ, BENCH_TOKEN_STAFF=STAFF, BENCH_TOKEN_KIOSK=KIOSK)
    raw = yaml.safe_load(hall.read_text())
    raw["devices"] = [d for d in raw["devices"] if d["kind"] == "pickup_locker"]  # InstantLockboxes answer for them
    sim = HallSimulator(raw, mqtt=MqttSettings(port=broker.port), heartbeat_s=5, rate_per_min=0)
    lockboxes = InstantLockboxes(broker.port, CABINETS)
    samples: dict[str, list[float]] = {
        "lockbox": [],
        "lockbox5": [],
        "locker": [],
        "mqtt_bare": [],
        "mqtt5_bare": [],
        "modbus_bare": [],
        "api_floor": [],
    }
    async with sim:
        board = sim.device("locker-1")
        lockboxes.__enter__()
        with (folder / "gateway.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, *PROFILE, "-m", "gateway.cli", "run", "-c", str(hall)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            http = RawHttp(api_port)
            try:

                async def ready() -> bool:
                    try:
                        r = await http.get("/api/v1/devices", headers={"Authorization": f"Bearer {STAFF}"})
                    except OSError:
                        return False
                    return r.status_code == 200 and all(d["online"] for d in r.json())

                deadline = time.monotonic() + 30
                while not await ready():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gateway not ready: {(folder / 'gateway.log').read_text()[-2000:]}")
                    await asyncio.sleep(0.1)
                for _ in range(2):  # warm-up: connections, code paths, SQLite pages
                    await _lockbox_round(http, 1)
                    await asyncio.sleep(0.15)
                for _ in range(ROUNDS):
                    for cabinets, name in ((1, "lockbox"), (CABINETS, "lockbox5")):
                        samples[name] += await _lockbox_round(http, cabinets)
                        await asyncio.sleep(0.15)  # the slots lock again (release 50 ms)
                        bare = "mqtt_bare" if cabinets == 1 else "mqtt5_bare"
                        samples[bare] += await asyncio.to_thread(_mqtt_baseline, broker.port, cabinets)
                        await asyncio.sleep(0.15)
                    samples["locker"] += await _locker_round(http, board)
                    samples["modbus_bare"] += await _modbus_baseline(modbus_port, board)
                    samples["api_floor"] += await _api_floor(http)
            finally:
                await http.aclose()
        finally:
            proc.terminate()
            proc.wait(15)
            lockboxes.__exit__()
    # The gateway's own view: the audit's latency (call received -> outcome decided), for comparison.
    conn = sqlite3.connect(folder / "state.sqlite")
    try:
        for action, name in (("unlock", "audit_lockbox"), ("pickup", "audit_locker")):
            rows = conn.execute("SELECT latency_ms FROM audit WHERE action = ? AND outcome = 'confirmed'", (action,))
            samples[name] = [ms for (ms,) in rows]
    finally:
        conn.close()
    return samples


def run(opts: Options) -> list[Row]:
    logging.getLogger("pymodbus").setLevel(logging.WARNING)  # its debug lines would cost the simulators
    runs: list[dict[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        root = Path(tmp)
        (root / "mosquitto").mkdir()
        broker = Mosquitto(root / "mosquitto")
        if NODELAY_BROKER:
            # Mosquitto leaves Nagle on by default: a PUBACK or a forwarded command can wait ~40 ms
            # for the peer's delayed ACK. A hall's broker should set this (configs/ notes it).
            with broker.conf.open("a") as conf:
                conf.write("set_tcp_nodelay true\n")
        broker.start()
        try:
            for r in range(opts.runs):
                folder = root / f"run{r}"
                folder.mkdir()
                s = asyncio.run(_run_once(folder, broker))
                runs.append(s)
                print(
                    f"  run {r}: lockbox p50 {_pct(s['lockbox'], 50):.1f} p99 {_pct(s['lockbox'], 99):.1f} ms; "
                    f"5 cabinets p50 {_pct(s['lockbox5'], 50):.1f} p99 {_pct(s['lockbox5'], 99):.1f} ms "
                    f"(bare p99 {_pct(s['mqtt5_bare'], 99):.1f}); "
                    f"locker p50 {_pct(s['locker'], 50):.1f} p99 {_pct(s['locker'], 99):.1f} ms "
                    f"(bare MQTT p99 {_pct(s['mqtt_bare'], 99):.1f}, bare Modbus p99 {_pct(s['modbus_bare'], 99):.1f}; "
                    f"inside the gateway: lockbox p99 {_pct(s['audit_lockbox'], 99):.1f}, "
                    f"locker p99 {_pct(s['audit_locker'], 99):.1f}; 20 GETs at once p50 "
                    f"{_pct(s['api_floor'], 50):.1f} p99 {_pct(s['api_floor'], 99):.1f})",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            broker.stop()

    def row(kind: str, p: float, base: str, target: str) -> Row:
        values = [_pct(s[kind], p) for s in runs]
        base_values = [_pct(s[base], p) for s in runs]
        what = {"lockbox": "lockbox, one cabinet", "lockbox5": f"lockbox, {CABINETS} cabinets", "locker": "locker"}
        return Row(
            "commands",
            f"{what[kind]}: unlock p{p:g}, {CONCURRENT} at once, API call to confirmed",
            "ms",
            median(values),
            f"the same without the gateway, p{p:g}",
            median(base_values),
            target,
            values,
            base_values,
        )

    return [
        row("lockbox", 50, "mqtt_bare", ""),
        row("lockbox", 99, "mqtt_bare", "<= 100 ms"),
        row("lockbox5", 50, "mqtt5_bare", ""),
        row("lockbox5", 99, "mqtt5_bare", "<= 100 ms"),
        row("locker", 50, "modbus_bare", ""),
        row("locker", 99, "modbus_bare", "<= 150 ms"),
    ]
