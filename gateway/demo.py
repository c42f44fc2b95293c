"""`hallgate demo`: a whole hall on one machine with no external servers.

An embedded MQTT broker (amqtt), simulated firmware for every device in configs/demo-hall.yaml,
the gateway and its API. The outbox lives in a temporary folder; no InfluxDB is needed. The
simulated Modbus servers get free ports at start (or consecutive ports from a base), so a second
demo, or any program on the ports the file names, does not stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from amqtt.broker import Broker

from firmware_sim.control import ControlChannel
from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.api import ROLES
from gateway.config.hall import HallConfig
from gateway.config.load import load_config
from gateway.demo_discipline import scenario, working_now
from gateway.paths import DEMO_CONFIG
from gateway.runtime import Gateway, StartupError, start_gateway

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def embedded_broker(port: int) -> AsyncIterator[Broker]:
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    try:
        await broker.start()
    except Exception as e:  # amqtt wraps the bind error in its own types
        raise StartupError(
            f"演示代理无法监听 127.0.0.1:{port}：{e}；请用 --mqtt-port 换一个端口 (port_taken)"
        ) from None
    try:
        yield broker
    finally:
        await broker.shutdown()


def demo_tokens() -> dict[str, str]:
    return {role: secrets.token_urlsafe(12) for role in ROLES}


def kiosk_tokens(hall: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A token for each kiosk the hall names: environment variable -> (locker, token)."""
    tokens = (hall.get("api") or {}).get("tokens") or []
    # One already in the environment is kept: a kiosk (or a test) may hold its token beforehand.
    return {
        t["env"]: (t["locker"], os.environ.get(t["env"]) or secrets.token_urlsafe(12))
        for t in tokens
        if t.get("role") == "kiosk"
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def modbus_ports(hall: Mapping[str, Any], base: int | None = None) -> dict[tuple[str, int], int]:
    """The port each of the hall's Modbus TCP servers (distinct host:port, in order of appearance)
    gets in the demo: consecutive from `base`, or free ports picked now."""
    ports: dict[tuple[str, int], int] = {}
    for device in hall.get("devices") or []:
        link = device.get("modbus") or {}
        if "port" in link:
            key = (str(link.get("host", "127.0.0.1")), int(link["port"]))
            if key not in ports:
                ports[key] = _free_port() if base is None else base + len(ports)
    return ports


def move_modbus(hall: dict[str, Any], ports: Mapping[tuple[str, int], int]) -> dict[str, str]:
    """Move the hall's Modbus servers to `ports`, in place (for the simulators), and return the same
    moves as environment overrides (for the gateway, through load_config)."""
    overrides = {}
    for i, device in enumerate(hall.get("devices") or []):
        link = device.get("modbus") or {}
        if "port" in link:
            link["port"] = ports[(str(link.get("host", "127.0.0.1")), int(link["port"]))]
            overrides[f"HALLGATE_DEVICES__{i}__MODBUS__PORT"] = str(link["port"])
    return overrides


@contextlib.asynccontextmanager
async def simulators(sim: HallSimulator, fixed_ports: bool) -> AsyncIterator[HallSimulator]:
    try:
        await sim.start()
    except (OSError, RuntimeError) as e:  # pymodbus reports a taken port as RuntimeError
        where = ", ".join(bus.url for bus in sim.buses)
        # Free ports are picked just before the servers bind them: another program can win that race.
        fix = "请换一个起始端口" if fixed_ports else "请重新启动演示以取得其他空闲端口"
        raise StartupError(f"演示的 Modbus 模拟器无法监听 {where}：{e}；{fix} (port_taken)") from None
    try:
        yield sim
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def control_channel(sim: HallSimulator, port: int) -> AsyncIterator[ControlChannel]:
    """The simulators' fault control channel on the demo broker (as `hallgate sim hall` runs it):
    `hallgate sim fault ...` or a JSON published to sim/{site}/{device|all}/control."""
    channel = ControlChannel("127.0.0.1", port, {sim.site: sim.faults}, sim.mqtt.protocol)
    task = asyncio.create_task(channel.run(), name="demo-sim-control")
    try:
        try:
            await asyncio.wait_for(channel.connected.wait(), 10.0)
        except TimeoutError:
            raise StartupError(f"演示的故障控制通道连不上代理 127.0.0.1:{port} (broker_unreachable)") from None
        yield channel
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def discipline_scenario(sim: HallSimulator, cfg: HallConfig) -> AsyncIterator[None]:
    """Play the discipline scenario once (gateway/demo_discipline.py): now, or when the hall's
    working hours next begin (nothing is a violation outside them)."""

    async def play() -> None:
        while not working_now(cfg):
            await asyncio.sleep(30)
        for fault in scenario(cfg).faults:
            sim.faults.apply(fault)

    task = asyncio.create_task(play(), name="demo-discipline-scenario")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def run_demo(
    api_port: int,
    mqtt_port: int,
    heartbeat_s: float = 30.0,
    folder: Path | None = None,
    modbus_port_base: int | None = None,
    district: str | None = None,
) -> AsyncIterator[tuple[Gateway, dict[str, str]]]:
    tokens = demo_tokens()
    hall = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    kiosks = kiosk_tokens(hall)
    moved = move_modbus(hall, modbus_ports(hall, modbus_port_base))
    with tempfile.TemporaryDirectory(prefix="hallgate-demo-") as tmp:
        environ = (
            dict(os.environ)
            | {f"HALLGATE_TOKEN_{role.upper()}": t for role, t in tokens.items()}
            | {env: token for env, (_, token) in kiosks.items()}
            | {
                "HALLGATE_API__PORT": str(api_port),
                "HALLGATE_BROKER__PORT": str(mqtt_port),
                "HALLGATE_STORE__PATH": str((folder or Path(tmp)) / "outbox.sqlite"),
            }
            | moved
            # --district: forward to that store at once (one demo site, no crowd to spread out).
            | ({"HALLGATE_DISTRICT__URL": district, "HALLGATE_DISTRICT__START_JITTER_S": "0"} if district else {})
        )
        os.environ.update({k: v for k, v in environ.items() if k.startswith("HALLGATE_TOKEN_")})
        cfg = load_config(DEMO_CONFIG, environ)
        sim = HallSimulator(
            hall, mqtt=MqttSettings(host="127.0.0.1", port=mqtt_port, protocol="3.1.1"), heartbeat_s=heartbeat_s
        )
        async with (
            embedded_broker(mqtt_port),
            simulators(sim, modbus_port_base is not None),
            control_channel(sim, mqtt_port),
            start_gateway(cfg) as gw,
            discipline_scenario(sim, cfg),
        ):
            # A kiosk token is a locker's, not a person's: under "kiosk:<locker>", apart from the roles.
            yield gw, tokens | {f"kiosk:{locker}": token for locker, token in kiosks.values()}


async def demo_account(gw: Gateway) -> str:
    """A named account for the login box (gateway/signin/): demo.manager with a new password each run."""
    from gateway.signin.passwords import hash_password

    password = secrets.token_urlsafe(9)
    hashed = await asyncio.to_thread(hash_password, password)
    accounts = gw.view.journal.repos.accounts
    if not accounts.set_hash("demo.manager", hashed):
        accounts.add("demo.manager", "演示管理员", "manager", hashed)
    return password


async def demo_main(
    api_port: int, mqtt_port: int, modbus_port_base: int | None = None, district: str | None = None
) -> None:
    async with run_demo(api_port, mqtt_port, modbus_port_base=modbus_port_base, district=district) as (gw, tokens):
        base = f"http://127.0.0.1:{api_port}"
        print(f"hallgate demo：{len(gw.cfg.zones)} 个区域，{len(gw.devices)} 台模拟设备 (devices)", flush=True)
        print(f"  管理页 (dashboard)：{base}/#token={tokens['manager']}")
        print(f"  公示屏 (wall)：{base}/#token={tokens['viewer']}（只读令牌，供大厅屏幕使用）")
        print(f"  登录 (sign in)：{base}/ 账号 demo.manager，密码 {await demo_account(gw)}（实名账号）")
        print(f"  接口文档 (API docs)：{base}/docs")
        print(f"  设备 (devices)：curl -H 'Authorization: Bearer {tokens['manager']}' {base}/api/v1/devices")
        print(f"  MQTT: mqtt://127.0.0.1:{mqtt_port}（内置代理）")
        if district:
            print(f"  区县汇聚 (district): {district} (site={gw.cfg.district.site_label or gw.cfg.site})")
        lines = sorted({d.config.modbus.bus for d in gw.devices.values() if d.config.modbus})
        print(f"  Modbus: {', '.join(lines)}（模拟的柜组与客流计数器）")
        # The simulators' control channel, as `hallgate sim hall` has it: a tester jams a lock or
        # cuts a counter and watches the screens (README "Two commands": every fault per kind).
        where = f"--broker 127.0.0.1:{mqtt_port}"
        print(f"  故障注入 (faults): hallgate sim fault jam --device lb-1f --slot 3 {where}")
        print(f"                     hallgate sim fault offline --device pc-entrance {where}")
        print(f"                     hallgate sim fault clear --device lb-1f {where}   (结束故障)")
        # Issue 23's scenario: played once by the demo itself; the same commands replay it by hand.
        when = "现在" if working_now(gw.cfg) else "工作时间开始时"
        print(f"  违规台账演示 (discipline): {when}自动演示一次, 检出的违规见管理页 违规台账 (确认后上大厅公示):")
        for command in scenario(gw.cfg).commands:
            print(f"                     {command} {where}")
        for role, token in tokens.items():
            if role.startswith("kiosk:"):
                # The locker's keypad: POST /api/v1/lockers/<locker>/pickup with this token.
                print(f"kiosk token: {role.removeprefix('kiosk:')} {token}")
            else:
                print(f"token: {role} {token}")
        print("按 Ctrl-C 停止演示 (Ctrl-C stops the demo)。", flush=True)
        await asyncio.Event().wait()
