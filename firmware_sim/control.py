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
import contextlib
import json
import logging
import os
from collections.abc import Mapping

import aiomqtt

from firmware_sim.faults import FaultError, FaultInjector

log = logging.getLogger("firmware_sim.control")


def refusal(e: FaultError) -> dict[str, str]:
    """The answer's `code` and Chinese `error` (a parameter's own check says what in English)."""
    said = str(e)
    return {"code": e.code, "error": f"故障参数不对 (bad_fault): {said}" if e.code == "bad_fault" else said}


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
                raise FaultError('应为 JSON 对象 (not_object), 例如 {"fault": "jam", "slot": 3}', "not_object")
            spec = dict(request)
            if device != "all":
                spec["device"] = device
            ids = injector.apply(spec)
            result = {"ok": True, "fault": spec.get("fault"), "devices": ids, "request": request}
        except FaultError as e:
            result = {"ok": False, **refusal(e), "request": request}
        except ValueError as e:  # not JSON
            result = {"ok": False, "code": "bad_json", "error": f"不是 JSON (bad_json): {e}", "request": request}
        self.handled += 1
        log.info("control %s: %s", topic, result)
        await client.publish(result_topic(site), json.dumps(result, ensure_ascii=False), qos=1)


class HttpControl:
    """The same control channel as a small local HTTP API (for a hall without a broker, or curl):

        curl -X POST localhost:8090/faults -d '{"fault": "jam", "device": "lb-1f", "slot": 3}'
        curl localhost:8090/faults        # what is active, per site and device, and the counts

    POST answers 200 `{"ok": true, "devices": [...]}` or 400 `{"ok": false, "error": "..."}`; a
    `site` field picks the hall when the process runs several. Loopback only by default.
    """

    def __init__(self, host: str, port: int, injectors: Mapping[str, FaultInjector]) -> None:
        self.host, self.port = host, port
        self.injectors = dict(injectors)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._request(reader), 5.0)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError) as e:
            status, body = 400, {"ok": False, "error": f"bad request: {e}"}
        data = json.dumps(body, ensure_ascii=False).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
        method, path, _ = (await reader.readline()).decode("latin-1").split(" ", 2)
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length > 65536:
            raise ValueError("body over 64 KiB")
        body = await reader.readexactly(length) if length else b""
        if path.rstrip("/") != "/faults":
            return 404, {"ok": False, "error": "use GET or POST /faults"}
        if method == "GET":
            return 200, {site: {"active": inj.active, "applied": inj.applied} for site, inj in self.injectors.items()}
        if method != "POST":
            return 404, {"ok": False, "error": "use GET or POST /faults"}
        try:
            spec = json.loads(body)
            if not isinstance(spec, dict):
                raise FaultError('expected a JSON object like {"fault": "jam", "device": "lb-1f", "slot": 3}')
            site = spec.pop("site", None)
            if site is None and len(self.injectors) == 1:
                site = next(iter(self.injectors))
            if site not in self.injectors:
                raise FaultError(f"site: {site!r} is not one of {sorted(self.injectors)[:10]}")
            ids = self.injectors[site].apply(spec)
        except FaultError as e:
            return 400, {"ok": False, **refusal(e)}
        except ValueError as e:  # not JSON
            return 400, {"ok": False, "code": "bad_json", "error": f"不是 JSON (bad_json): {e}"}
        return 200, {"ok": True, "fault": spec.get("fault"), "site": site, "devices": ids}
