"""`hallgate demo`: a whole hall on one machine with no external servers.

An embedded MQTT broker (amqtt), simulated firmware for every device in configs/demo-hall.yaml,
the gateway and its API. The outbox lives in a temporary folder; no InfluxDB is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from amqtt.broker import Broker

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config import ROLES, load_config
from gateway.runtime import Gateway, StartupError, start_gateway

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "demo-hall.yaml"
log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def embedded_broker(port: int) -> AsyncIterator[Broker]:
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    try:
        await broker.start()
    except Exception as e:  # amqtt wraps the bind error in its own types
        raise StartupError(f"the demo broker cannot listen on 127.0.0.1:{port}: {e}; "
                           "choose another port with --mqtt-port") from None
    try:
        yield broker
    finally:
        await broker.shutdown()


def demo_tokens() -> dict[str, str]:
    return {role: secrets.token_urlsafe(12) for role in ROLES}


@contextlib.asynccontextmanager
async def run_demo(api_port: int, mqtt_port: int, heartbeat_s: float = 30.0,
                   folder: Path | None = None) -> AsyncIterator[tuple[Gateway, dict[str, str]]]:
    tokens = demo_tokens()
    with tempfile.TemporaryDirectory(prefix="hallgate-demo-") as tmp:
        environ = dict(os.environ) | {f"HALLGATE_TOKEN_{role.upper()}": t for role, t in tokens.items()} | {
            "HALLGATE_API__PORT": str(api_port),
            "HALLGATE_BROKER__PORT": str(mqtt_port),
            "HALLGATE_STORE__PATH": str((folder or Path(tmp)) / "outbox.sqlite"),
        }
        os.environ.update({k: v for k, v in environ.items() if k.startswith("HALLGATE_TOKEN_")})
        cfg = load_config(DEMO_CONFIG, environ)
        sim = HallSimulator(DEMO_CONFIG, mqtt=MqttSettings(host="127.0.0.1", port=mqtt_port, protocol="3.1.1"),
                            heartbeat_s=heartbeat_s)
        async with embedded_broker(mqtt_port), sim, start_gateway(cfg) as gw:
            yield gw, tokens


async def demo_main(api_port: int, mqtt_port: int) -> None:
    async with run_demo(api_port, mqtt_port) as (gw, tokens):
        base = f"http://127.0.0.1:{api_port}"
        print(f"hallgate demo: {len(gw.devices)} simulated devices in {len(gw.cfg.zones)} zones", flush=True)
        print(f"  dashboard: {base}/#token={tokens['manager']}")
        print(f"  API docs:  {base}/docs")
        print(f"  devices:   curl -H 'Authorization: Bearer {tokens['manager']}' {base}/api/v1/devices")
        print(f"  MQTT:      mqtt://127.0.0.1:{mqtt_port} (embedded broker)")
        for role, token in tokens.items():
            print(f"token: {role} {token}")
        print("Ctrl-C stops the demo.", flush=True)
        await asyncio.Event().wait()
