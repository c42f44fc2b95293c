"""One hall gateway: wires the transports, the hub, the store and the API on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import uvicorn

from drivers.modbus import LineSettings, ModbusLine, poll_forever
from drivers.mqtt import MqttLink, MqttOptions, Will
from gateway.config import HallConfig, Influx, secret
from gateway.hub import Hub
from gateway.registry import DeviceEntry, build_registry
from gateway.store.drain import DrainStats, drain
from gateway.store.outbox import Outbox
from gateway.store.sinks import InfluxV1Sink, InfluxV2Sink, Sink

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The gateway cannot start, for a reason the operator can fix (the message says how)."""


@dataclass
class Gateway:
    """Everything the API reads. Built by `start_gateway`; the API never touches a device."""

    cfg: HallConfig
    devices: dict[str, DeviceEntry]
    hub: Hub
    outbox: Outbox
    mqtt: MqttLink | None
    lines: dict[str, ModbusLine]
    sink: Sink | None
    drain: DrainStats
    tokens: dict[str, str]  # token -> role

    @property
    def status_topic(self) -> str:
        return status_topic(self.cfg)


def status_topic(cfg: HallConfig) -> str:
    """The gateway's own retained status, and its will."""
    return f"hall/{cfg.site}/gateway/status"


def _tokens(cfg: HallConfig) -> dict[str, str]:
    out = {}
    for t in cfg.api.tokens:
        value = secret(t.env)
        if value:
            out[value] = t.role
    return out


def make_sink(cfg: Influx) -> Sink | None:
    if cfg.api == "v1":
        return InfluxV1Sink(cfg.url, cfg.database, cfg.retention_policy, cfg.username, secret(cfg.password_env))
    if cfg.api == "v2":
        assert cfg.org and cfg.bucket
        return InfluxV2Sink(cfg.url, cfg.org, cfg.bucket, secret(cfg.token_env) or "")
    return None


def _mqtt_options(cfg: HallConfig) -> MqttOptions:
    b = cfg.broker
    return MqttOptions(
        host=b.host, port=b.port, client_id=cfg.client_id, protocol=b.protocol, username=b.username,
        password=secret(b.password_env), keepalive_s=b.keepalive_s, receive_maximum=b.receive_maximum,
        will=Will(status_topic(cfg), json.dumps({"state": "offline"}).encode()),
    )


@contextlib.asynccontextmanager
async def start_gateway(cfg: HallConfig) -> AsyncIterator[Gateway]:
    """`async with start_gateway(cfg) as gw:` runs the whole gateway until the block exits."""
    devices, problems = build_registry(cfg)
    if problems:
        raise ValueError("; ".join(f"{p}: {m}" for p, m in problems))
    cfg.store.path.parent.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(cfg.store.path, max_bytes=cfg.store.max_bytes)
    hub = Hub(cfg, devices, outbox)
    tasks: list[asyncio.Task[Any]] = []
    lines: dict[str, ModbusLine] = {}
    mqtt: MqttLink | None = None
    sink = make_sink(cfg.influx)
    gw = Gateway(cfg, devices, hub, outbox, None, lines, sink, DrainStats(), _tokens(cfg))
    stop_drain = asyncio.Event()
    try:
        if sink is not None:
            tasks.append(asyncio.create_task(
                drain(outbox, sink, batch_size=cfg.store.batch_size, max_wait_s=cfg.store.flush_interval_s,
                      stop=stop_drain, stats=gw.drain), name="drain"))
        if any(d.protocol == "mqtt" for d in devices.values()):
            mqtt = MqttLink(_mqtt_options(cfg), hub.ingest_mqtt, hub.subscriptions(),
                            on_connect=lambda link: link.publish(gw.status_topic, _online(), qos=1, retain=True))
            await mqtt.__aenter__()
            gw.mqtt = mqtt
        for d in devices.values():
            if d.plan is None or d.config.modbus is None:
                continue
            m = d.config.modbus
            line = lines.get(m.bus)
            if line is None:
                line = lines[m.bus] = ModbusLine(LineSettings(host=m.host, port=m.port, serial=m.serial,
                                                              baudrate=m.baudrate, framer=m.framer,
                                                              timeout_s=m.timeout_s))
            tasks.append(asyncio.create_task(
                poll_forever(line, m.unit, d.plan, d.config.poll_interval_s, hub.on_poll(d.id)),
                name=f"poll {d.id}"))
        tasks.append(asyncio.create_task(_tick(hub), name="tick"))
        from gateway.api.app import create_app  # here: the API's modules import this one

        server = uvicorn.Server(uvicorn.Config(create_app(gw), log_level="warning", lifespan="off"))
        api = asyncio.create_task(server.serve(sockets=[_listen(cfg.api.host, cfg.api.port)]), name="api")
        tasks.append(api)
        while not server.started and not api.done():
            await asyncio.sleep(0.02)
        if api.done():
            api.result()
            raise StartupError("the API stopped while starting: see the log above")
        yield gw
    finally:
        stop_drain.set()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, SystemExit, Exception):
                await t
        if mqtt is not None:
            await mqtt.close(json.dumps({"state": "offline", "reason": "shutdown"}).encode(), gw.status_topic)
        for line in lines.values():
            line.close()
        hub.flush()
        if sink is not None:
            await sink.close()
        outbox.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the API's socket here, so a taken port is a clear error rather than uvicorn's exit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise StartupError(f"the API cannot listen on {host}:{port}: {e.strerror}; "
                           "free the port or choose another (api.port, HALLGATE_API__PORT)") from None
    return sock


def _online() -> bytes:
    ts = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return json.dumps({"state": "online", "ts": ts}).encode()


async def _tick(hub: Hub) -> None:
    while True:
        await asyncio.sleep(1.0)
        hub.tick()
