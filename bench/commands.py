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
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
from pymodbus.client import AsyncModbusTcpClient

from bench.common import Options, Row, median
from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto, free_port

CONCURRENT = 20
ROUNDS = 10  # per run: 200 samples of each
STAFF = "bench-staff-token-0123456789abcdef"
KIOSK = "bench-kiosk-token-0123456789abcdef"


def _hall(folder: Path, broker: Mosquitto, api_port: int, modbus_port: int) -> Path:
    path = folder / "hall.yaml"
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
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 24,
      sim: {{open_probability: 0, release_s: 0.05}}}}
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


async def _lockbox_round(http: httpx.AsyncClient) -> list[float]:
    async def one(slot: int) -> tuple[float, httpx.Response]:
        headers = {"Authorization": f"Bearer {STAFF}", "Idempotency-Key": uuid.uuid4().hex}
        return await _timed(
            http.post(f"/api/v1/lockboxes/lb-1/slots/{slot}/unlock", json={"reason": "bench"}, headers=headers)
        )

    out = await asyncio.gather(*(one(s) for s in range(1, CONCURRENT + 1)))
    bad = [r.text for _, r in out if r.status_code != 200]
    if bad:
        raise RuntimeError(f"lockbox unlock failed: {bad[:3]}")
    return [ms for ms, _ in out]


async def _locker_round(http: httpx.AsyncClient, board: Any) -> list[float]:
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

    async def one(code: str) -> tuple[float, httpx.Response]:
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


async def _mqtt_baseline(broker: Mosquitto) -> list[float]:
    """The same 20 unlocks straight to the lockbox, acks awaited: the device and broker alone."""
    base = "hall/bench/lockbox/lb-1"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"bench-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{base}/ack", qos=1)
        sent: dict[str, float] = {}
        took: list[float] = []

        async def acks() -> None:
            async for m in client.messages:
                cmd_id = json.loads(m.payload)["id"]
                if cmd_id in sent:
                    took.append((time.perf_counter() - sent.pop(cmd_id)) * 1000)
                    if len(took) == CONCURRENT:
                        return

        reader = asyncio.create_task(acks())
        for slot in range(1, CONCURRENT + 1):
            cmd_id = uuid.uuid4().hex
            sent[cmd_id] = time.perf_counter()
            await client.publish(f"{base}/cmd", json.dumps({"id": cmd_id, "op": "unlock", "slot": slot}), qos=1)
        await asyncio.wait_for(reader, 10)
    return took


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
    sim = HallSimulator(hall, mqtt=MqttSettings(port=broker.port), heartbeat_s=5, rate_per_min=0)
    samples: dict[str, list[float]] = {"lockbox": [], "locker": [], "mqtt_bare": [], "modbus_bare": [], "audit": []}
    async with sim:
        board = sim.device("locker-1")
        with (folder / "gateway.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "-c", str(hall)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:

                async def ready() -> bool:
                    try:
                        r = await http.get("/api/v1/devices", headers={"Authorization": f"Bearer {STAFF}"})
                    except httpx.TransportError:
                        return False
                    return r.status_code == 200 and all(d["online"] for d in r.json())

                deadline = time.monotonic() + 30
                while not await ready():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gateway not ready: {(folder / 'gateway.log').read_text()[-2000:]}")
                    await asyncio.sleep(0.1)
                for _ in range(2):  # warm-up: connections, code paths, SQLite pages
                    await _lockbox_round(http)
                    await asyncio.sleep(0.15)
                for _ in range(ROUNDS):
                    samples["lockbox"] += await _lockbox_round(http)
                    await asyncio.sleep(0.15)  # the slots lock again (release 50 ms)
                    samples["mqtt_bare"] += await _mqtt_baseline(broker)
                    await asyncio.sleep(0.15)
                    samples["locker"] += await _locker_round(http, board)
                    samples["modbus_bare"] += await _modbus_baseline(modbus_port, board)
        finally:
            proc.terminate()
            proc.wait(15)
    return samples


def run(opts: Options) -> list[Row]:
    logging.getLogger("pymodbus").setLevel(logging.WARNING)  # its debug lines would cost the simulators
    runs: list[dict[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        root = Path(tmp)
        (root / "mosquitto").mkdir()
        broker = Mosquitto(root / "mosquitto")
        broker.start()
        try:
            for r in range(opts.runs):
                folder = root / f"run{r}"
                folder.mkdir()
                s = asyncio.run(_run_once(folder, broker))
                runs.append(s)
                print(
                    f"  run {r}: lockbox p50 {_pct(s['lockbox'], 50):.1f} p99 {_pct(s['lockbox'], 99):.1f} ms; "
                    f"locker p50 {_pct(s['locker'], 50):.1f} p99 {_pct(s['locker'], 99):.1f} ms "
                    f"(bare MQTT p99 {_pct(s['mqtt_bare'], 99):.1f}, bare Modbus p99 {_pct(s['modbus_bare'], 99):.1f})",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            broker.stop()

    def row(kind: str, p: float, base: str, target: str) -> Row:
        values = [_pct(s[kind], p) for s in runs]
        base_values = [_pct(s[base], p) for s in runs]
        return Row(
            "commands",
            f"{kind} unlock p{p:g}, {CONCURRENT} at once, API call to confirmed",
            "ms",
            median(values),
            f"bare {base.split('_')[0]} round trip p{p:g}",
            median(base_values),
            target,
            values,
            base_values,
        )

    return [
        row("lockbox", 50, "mqtt_bare", ""),
        row("lockbox", 99, "mqtt_bare", "<= 100 ms"),
        row("locker", 50, "modbus_bare", ""),
        row("locker", 99, "modbus_bare", "<= 150 ms"),
    ]
