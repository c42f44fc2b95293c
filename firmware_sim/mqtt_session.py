"""An MQTT device's connection (a mixin of `MqttDevice`): connect with a persistent session and a
will, reconnect with backoff, and while online send heartbeats, send the outbox oldest first (an
event leaves it only once the broker acknowledged it) and take commands.

The device's switches (`_stop`, `_online_allowed`, `_drop`, set by the fault hooks and `stop()`)
end or refuse a session; `_clean_drop` says whether a drop says goodbye (status offline, shutdown)
or vanishes (the broker publishes the will).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_sim.common import SeqCounter, compact_json
from firmware_sim.tasks import cancel_and_wait

log = logging.getLogger("firmware_sim.mqtt")


@dataclass(frozen=True)
class MqttSettings:
    """Where and how the MQTT devices connect."""

    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "5"  # "5" or "3.1.1" (the demo's amqtt broker speaks 3.1.1 only)
    session_expiry_s: int = 3600  # MQTT 5 only; 3.1.1 sessions persist until the broker drops them
    keepalive_s: int = 30
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.protocol not in ("5", "3.1.1"):
            raise ValueError(f"MQTT protocol must be '5' or '3.1.1', not {self.protocol!r}")


class MqttSession:
    # The device's state the session uses (MqttDevice.__init__ sets it; its methods `channel`,
    # `status_online`, `heartbeat`, `spontaneous` and `_on_cmd` say what goes out and what a command does).
    client_id: str
    mqtt: MqttSettings
    will: bool
    rng: random.Random
    seq: SeqCounter
    heartbeat_s: float
    rate_per_min: float
    event_channel: str
    retained_channels: frozenset[str]
    upload_rate_per_s: float | None
    loss: float
    reply_delay_s: float
    sessions: int
    published: int
    last_error: str | None
    connected: asyncio.Event
    _client: aiomqtt.Client | None
    _outbox: deque[tuple[str, str | bytes]]
    _acks_out: deque[str]
    _sent: deque[tuple[str, str | bytes]]
    _outbox_changed: asyncio.Event
    _stop: asyncio.Event
    _online_allowed: asyncio.Event
    _powered: asyncio.Event
    _drop: asyncio.Event
    _clean_drop: bool
    _side_tasks: set[asyncio.Task[None]]

    async def run(self) -> None:
        """Run until `stop()` (or cancellation): connect, reconnect with backoff, live."""
        activity = asyncio.create_task(self._activity(), name=f"{self.client_id}-activity")
        delay = self.mqtt.reconnect_min_s
        try:
            while not self._stop.is_set():
                if not self._online_allowed.is_set():
                    await self._first(self._online_allowed.wait())
                    continue
                try:
                    await self._session()
                    delay = self.mqtt.reconnect_min_s
                except aiomqtt.MqttError as e:
                    self.last_error = str(e)
                    if self._stop.is_set():
                        break
                    log.info("%s: connection lost or refused (%s); retry in %.1f s", self.client_id, e, delay)
                    await self._first(asyncio.sleep(delay * self.rng.uniform(0.5, 1.0)))
                    delay = min(delay * 2, self.mqtt.reconnect_max_s)
        finally:
            await cancel_and_wait([activity, *self._side_tasks])
            self.seq.close()

    async def _first(self, aw: Awaitable[Any]) -> None:
        """Wait for `aw` or for stop(), whichever comes first."""
        task = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait([task, stop])

    def _client_args(self) -> dict[str, Any]:
        will = aiomqtt.Will(self.channel("status"), compact_json({"state": "offline"}), qos=1, retain=True)
        args: dict[str, Any] = {
            "identifier": self.client_id,
            "will": will if self.will else None,
            "keepalive": self.mqtt.keepalive_s,
            "timeout": 5.0,
        }
        if self.mqtt.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.mqtt.session_expiry_s
            args.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props)
        else:
            args.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        return args

    async def _session(self) -> None:
        self._drop.clear()
        self._clean_drop = False
        client = aiomqtt.Client(self.mqtt.host, self.mqtt.port, **self._client_args())
        try:
            async with client:
                self._client = client
                try:
                    await client.publish(self.channel("status"), compact_json(self.status_online()), qos=1, retain=True)
                    await client.subscribe(self.channel("cmd"), qos=1)
                    self.sessions += 1
                    self.connected.set()
                    log.info("%s: online at %s:%s", self.client_id, self.mqtt.host, self.mqtt.port)
                    await self._live(client)
                finally:
                    self.connected.clear()
                    self._client = None
        finally:
            await _end_misc_task(client)

    async def _live(self, client: aiomqtt.Client) -> None:
        workers = [
            asyncio.create_task(self._heartbeats(client)),
            asyncio.create_task(self._sender(client)),
            asyncio.create_task(self._receiver(client)),
        ]
        stop = asyncio.create_task(self._stop.wait())
        drop = asyncio.create_task(self._drop.wait())
        try:
            done, _ = await asyncio.wait([*workers, stop, drop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait([*workers, stop, drop])
        if drop in done and not self._clean_drop:
            await self._abort(client)
        elif stop in done or drop in done:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                payload = compact_json({"state": "offline", "reason": "shutdown"})
                await client.publish(self.channel("status"), payload, qos=1, retain=True, timeout=1.0)
        else:
            for task in workers:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            raise aiomqtt.MqttError("session ended")

    async def _abort(self, client: aiomqtt.Client) -> None:
        """Drop the TCP connection without DISCONNECT so that the broker publishes the will."""
        paho = client._client  # aiomqtt has no public way to drop a connection abruptly
        sock = paho.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # wait for paho to notice, so that aiomqtt's __aexit__ does not try a clean DISCONNECT
        disconnected = client._disconnected
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(disconnected), 2.0)
        log.info("%s: connection dropped abruptly (fault injection)", self.client_id)

    async def _heartbeats(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self.loss and self.rng.random() < self.loss:
                continue  # QoS 0 on a flaky link: simply lost
            await client.publish(self.channel("heartbeat"), compact_json(self.heartbeat()), qos=0)
            self.published += 1

    async def _sender(self, client: aiomqtt.Client) -> None:
        """Send acks first, then events oldest first; forget one only once the broker acked it."""
        interval = 1.0 / self.upload_rate_per_s if self.upload_rate_per_s else 0.0
        next_at = time.monotonic()
        while True:
            if self._acks_out:
                if self.reply_delay_s:
                    await asyncio.sleep(self.reply_delay_s)
                await client.publish(self.channel("ack"), self._acks_out[0], qos=1, timeout=10.0)
                self._acks_out.popleft()
                self.published += 1
                continue
            if not self._outbox:
                self._outbox_changed.clear()
                await self._outbox_changed.wait()
                continue
            if interval:
                now = time.monotonic()
                next_at = max(next_at + interval, now - 1.0)
                if next_at > now:
                    await asyncio.sleep(next_at - now)
            channel, payload = self._outbox[0]
            retain = channel in self.retained_channels
            await client.publish(self.channel(channel), payload, qos=1, retain=retain, timeout=10.0)
            if self.loss and self.rng.random() < self.loss:
                # a flaky link loses the PUBACK: the connection drops and the message is sent
                # again after the reconnect (QoS 1 on a bad link means repeats, not gaps)
                self._drop.set()
                await asyncio.Event().wait()
            self.published += 1
            if self._outbox and self._outbox[0][1] is payload:
                sent = self._outbox.popleft()
                if isinstance(payload, str) and channel == self.event_channel:  # events, not garbage
                    self._sent.append(sent)

    async def _receiver(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._on_cmd(message.payload)

    async def _activity(self) -> None:
        if self.rate_per_min <= 0:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate_per_min / 60.0))
            await self._powered.wait()
            self.spontaneous()


async def _end_misc_task(client: aiomqtt.Client) -> None:
    """aiomqtt starts its keep-alive task from paho's connect thread; a connection that closes
    before that task exists never cancels it, and it runs on for up to a second after the client
    has gone. End it with the session."""
    await asyncio.sleep(0)  # let a creation scheduled from that thread run first
    task = getattr(client, "_misc_task", None)
    if task is not None and not task.done():
        await cancel_and_wait([task])
