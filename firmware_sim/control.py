"""The runtime control channel: faults sent over MQTT while the simulator runs.

Publish a JSON fault (see firmware_sim/faults.py) to

    sim/{site}/{device}/control     one device
    sim/{site}/all/control          the site's devices (narrow with "kind" and/or "share")

for example `mosquitto_pub -t sim/demo-hall/lb-1f/control -m '{"fault":"jam","slot":3}'`. The
simulator answers on `sim/{site}/control/result` (QoS 1, not retained):
`{"ok":true,"fault":"jam","devices":["lb-1f"],"request":{...}}` or `{"ok":false,"error":"..."}`.
Modbus devices are controlled the same way (the channel lives on the broker, not on the device).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping

import aiomqtt

from firmware_sim.faults import FaultError, FaultInjector

log = logging.getLogger("firmware_sim.control")


def control_topic(site: str, device: str = "all") -> str:
    return f"sim/{site}/{device}/control"


def result_topic(site: str) -> str:
    return f"sim/{site}/control/result"


class ControlChannel:
    """One MQTT client per simulator process, subscribed to the control topics of its sites."""

    def __init__(self, host: str, port: int, injectors: Mapping[str, FaultInjector], protocol: str = "5") -> None:
        self.host, self.port = host, port
        self.injectors = dict(injectors)  # site -> injector
        self.protocol = protocol
        self.connected = asyncio.Event()
        self.handled = 0

    async def run(self) -> None:
        """Serve until cancelled; reconnect quietly while the broker is away."""
        version = aiomqtt.ProtocolVersion.V5 if self.protocol == "5" else aiomqtt.ProtocolVersion.V311
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=f"hallgate-sim-control-{os.getpid()}",
                    protocol=version,
                    timeout=5.0,
                ) as client:
                    await client.subscribe("sim/+/+/control", qos=1)
                    self.connected.set()
                    delay = 0.2
                    async for message in client.messages:
                        await self._handle(client, str(message.topic), bytes(message.payload))  # type: ignore[arg-type]
            except aiomqtt.MqttError as e:
                self.connected.clear()
                log.info("control channel: %s; retry in %.1f s", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _handle(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        _, site, device, _ = topic.split("/", 3)
        injector = self.injectors.get(site)
        if injector is None:
            return  # another simulator's site on the same broker
        request: object = None
        try:
            request = json.loads(payload)
            if not isinstance(request, dict):
                raise FaultError('expected a JSON object like {"fault": "jam", "slot": 3}')
            spec = dict(request)
            if device != "all":
                spec["device"] = device
            ids = injector.apply(spec)
            result = {"ok": True, "fault": spec.get("fault"), "devices": ids, "request": request}
        except (ValueError, FaultError) as e:
            result = {"ok": False, "error": str(e), "request": request}
        self.handled += 1
        log.info("control %s: %s", topic, result)
        await client.publish(result_topic(site), json.dumps(result, ensure_ascii=False), qos=1)
