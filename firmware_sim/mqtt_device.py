"""The MQTT device firmware shared by the rating pad, the phone lockbox, the attendance machine and
the queue system.

One asyncio task per device (`MqttDevice.run`), all devices on one event loop. Per device-protocols.md:
- topics `hall/{site}/{kind}/{device}/{channel}`, client id `{kind}-{device}`, persistent session;
- retained `status` online on connect, the will is retained `{"state":"offline"}` QoS 1, a clean
  shutdown publishes `{"state":"offline","reason":"shutdown"}`;
- `heartbeat` QoS 0 every `heartbeat_s`;
- events carry `seq` (uint32, wraps) and `ts`; they are kept in a bounded outbox while offline and
  sent oldest first after the status on reconnect (a message is dropped from the outbox only once
  the broker acknowledged it, so a cut may repeat some);
- `cmd` ids executed in the last 10 minutes are not executed again: the same `ack` is re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_sim.common import CST, SeqCounter, default_state_root, device_rng, iso_ts
from firmware_sim.garbage import garbage_payload

log = logging.getLogger("firmware_sim.mqtt")

CMD_MEMORY_S = 600.0  # ids executed in the last 10 minutes are not executed again
SENT_MEMORY = 1000  # events remembered after sending, for a "power loss" re-upload of a range


class _DefaultState:
    """`state_dir=DEFAULT_STATE`: the device's flash lives under `default_state_root()/{site}/{device}`."""

    def __repr__(self) -> str:
        return "DEFAULT_STATE"


DEFAULT_STATE = _DefaultState()
StateDir = Path | str | _DefaultState | None


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


class CmdError(Exception):
    """A command that the device refuses; `code` goes into the ack's `error`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class MqttDevice:
    """Base class of the MQTT device simulators.

    Subclasses set the class attributes and implement `spontaneous()` (one random activity step)
    and, for their own command ops, `execute()`.
    """

    kind: ClassVar[str] = ""  # the device kind of a hall file (firmware_sim/kinds/registry.py)
    wirekind: ClassVar[str] = ""
    model: ClassVar[str] = ""
    fw: ClassVar[str] = "2.3.1"
    event_channel: ClassVar[str] = "event"
    battery_powered: ClassVar[bool] = False
    max_backlog: ClassVar[int] = 10_000
    upload_rate_per_s: ClassVar[float | None] = None  # None: as fast as the broker acknowledges
    retained_channels: ClassVar[frozenset[str]] = frozenset()  # outbox channels published retained

    def __init__(
        self,
        device_id: str,
        *,
        site: str = "demo-hall",
        topic: str | None = None,
        mqtt: MqttSettings | None = None,
        heartbeat_s: float = 30.0,
        rate_per_min: float = 0.0,
        seed: int | str = 0,
        state_dir: StateDir = DEFAULT_STATE,
        seq_start: int = 0,
        clock_offset_s: float = 0.0,
        will: bool = True,
    ) -> None:
        """`state_dir`: the device's "flash" folder (its seq survives restarts); the default is
        `~/.local/state/hallgate-sim/{site}/{device}` (see `default_state_root`); None keeps it in
        memory only. `will`: False configures the device without an MQTT will (an abrupt drop then
        leaves its retained status online)."""
        self.device_id = device_id
        self.site = site
        self.topic = (topic or f"hall/{site}/{self.wirekind}/{device_id}").rstrip("/")
        self.client_id = f"{self.wirekind}-{device_id}"
        self.mqtt = mqtt or MqttSettings()
        self.heartbeat_s = heartbeat_s
        self.rate_per_min = rate_per_min
        self.rng = device_rng(seed, device_id)
        if isinstance(state_dir, _DefaultState):
            state_dir = default_state_root() / site / device_id
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.seq = SeqCounter(seq_start, self.state_dir / "seq.json" if self.state_dir else None)
        self.clock_offset_s = clock_offset_s
        self.drift_s_per_day = 0.0  # a clock running fast (>0) or slow, from _drift_since on
        self._drift_since = time.monotonic()
        self.will = will
        self.battery = 100 if self.battery_powered else None
        # what was sent and what is waiting
        self._outbox: deque[tuple[str, str | bytes]] = deque()
        self._acks_out: deque[str] = deque()
        self._acks: dict[str, tuple[float, str]] = {}
        self.dropped_events = 0
        self.executed_cmds = 0
        self.repeated_cmds = 0
        self.bad_cmds = 0
        self.sessions = 0
        self.published = 0  # messages the broker accepted (QoS 1) or that were handed over (QoS 0)
        self.last_error: str | None = None  # why the last connection attempt failed or ended
        # fault injection (see firmware_sim/faults.py)
        self.loss = 0.0  # share of messages a flaky link loses
        self.reply_delay_s = 0.0  # slow replies: each ack waits this long
        self._clean_drop = False
        self._sent: deque[tuple[str, str | bytes]] = deque(maxlen=SENT_MEMORY)
        # state and control
        self._boot = time.monotonic()
        self._outbox_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._online_allowed = asyncio.Event()
        self._online_allowed.set()
        self._powered = asyncio.Event()
        self._powered.set()
        self._drop = asyncio.Event()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()

    # ---- topics and payloads ---------------------------------------------------------------
    def channel(self, name: str) -> str:
        return f"{self.topic}/{name}"

    def ts(self) -> str:
        drift = self.drift_s_per_day * (time.monotonic() - self._drift_since) / 86400 if self.drift_s_per_day else 0.0
        return iso_ts(self.clock_offset_s + drift)

    def set_drift(self, offset_s: float = 0.0, per_day_s: float = 0.0) -> None:
        """The device clock is off by `offset_s` now and drifts `per_day_s` seconds a day from here."""
        self.clock_offset_s = offset_s
        self.drift_s_per_day = per_day_s
        self._drift_since = time.monotonic()

    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self._boot)

    @property
    def backlog(self) -> int:
        """Events waiting for the broker's acknowledgement."""
        return len(self._outbox)

    def emit(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Record one event (`seq` and `ts` added) and queue it for sending, oldest first."""
        event = {"seq": self.seq.next(), "ts": self.ts(), **fields}
        if len(self._outbox) >= self.max_backlog:
            self._outbox.popleft()
            self.dropped_events += 1
        self._outbox.append((self.event_channel, _dumps(event)))
        self._outbox_changed.set()
        return event

    def status_online(self) -> dict[str, Any]:
        return {"state": "online", "fw": self.fw, "model": self.model, "ts": self.ts()}

    def heartbeat(self) -> dict[str, Any]:
        beat: dict[str, Any] = {
            "ts": self.ts(),
            "uptime_s": self.uptime_s,
            "rssi": self.rng.randint(-75, -50),
        }
        if self.battery is not None:
            beat["battery"] = self.battery
        return beat

    # ---- behaviour for subclasses ----------------------------------------------------------
    def spontaneous(self) -> None:
        """One step of random everyday activity (called `rate_per_min` times a minute on average)."""

    async def execute(self, op: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """Run a command op; return extra ack fields or raise CmdError."""
        if op == "ping":
            return {}
        raise CmdError("bad_op")

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a helper coroutine (a door that closes later...) that is cancelled on stop."""
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # ---- fault injection -------------------------------------------------------------------
    def crash(self) -> None:
        """Power loss / firmware crash: the TCP connection drops without DISCONNECT (the broker
        publishes the will) and the device stays dead until `come_back()` (uptime restarts)."""
        self._powered.clear()
        self._online_allowed.clear()
        self._drop.set()

    def go_offline(self, clean: bool = False) -> None:
        """Network cut: the connection drops abruptly (will published); the device keeps working
        and stores its events until `come_back()`. `clean`: it publishes status offline (reason
        shutdown) and disconnects properly instead, as when switched off by its menu."""
        self._clean_drop = clean
        self._online_allowed.clear()
        self._drop.set()

    def reboot(self, clock_reset: bool = False) -> None:
        """Power cycle: an abrupt drop (the will), then a boot with uptime from 0; events stored
        before are kept (flash). `clock_reset`: the clock restarts at 2000-01-01 as after a
        power cut with a flat RTC battery, so later events carry wrong dates."""
        self.crash()
        if clock_reset:
            self.clock_offset_s = datetime(2000, 1, 1, tzinfo=CST).timestamp() - time.time()
        self.come_back()

    def inject_garbage(self, kind: str, count: int = 1) -> None:
        """Queue `count` malformed messages on the event channel (see firmware_sim/garbage.py)."""
        for _ in range(count):
            self._outbox.append((self.event_channel, garbage_payload(kind, self.rng)))
        self._outbox_changed.set()

    def burst_event(self) -> None:
        """One event of everyday activity, emitted now (for backlog bursts); kinds override."""
        self.emit({})

    def backlog_burst(self, events: int, repeat: int = 0) -> None:
        """Queue `events` new events at once and re-queue the last `repeat` already-sent events
        (the same seq: a range uploaded again after a power loss); they go out oldest first."""
        again = list(self._sent)[-repeat:] if repeat > 0 else []
        self._outbox.extendleft(reversed(again))
        for _ in range(events):
            self.burst_event()
        self._outbox_changed.set()

    def drop_connection(self) -> None:
        """A flaky link: drop the connection abruptly once; the device reconnects at once."""
        self._drop.set()

    def come_back(self) -> None:
        """End a crash or a network cut: the device (re)boots if needed and reconnects."""
        if not self._powered.is_set():
            self._boot = time.monotonic()
            self._powered.set()
        self._online_allowed.set()

    def stop(self) -> None:
        """Clean shutdown: publish status offline with reason shutdown, DISCONNECT, return from run()."""
        self._stop.set()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def wait_sent(self, timeout: float = 10.0) -> None:
        """Wait until every queued event and ack has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self._outbox or self._acks_out:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.client_id}: {len(self._outbox)} events still unsent")
            await asyncio.sleep(0.02)

    # ---- the firmware main loop ------------------------------------------------------------
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
        will = aiomqtt.Will(self.channel("status"), _dumps({"state": "offline"}), qos=1, retain=True)
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
                    await client.publish(self.channel("status"), _dumps(self.status_online()), qos=1, retain=True)
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
                payload = _dumps({"state": "offline", "reason": "shutdown"})
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
            await client.publish(self.channel("heartbeat"), _dumps(self.heartbeat()), qos=0)
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

    async def _on_cmd(self, raw: Any) -> None:
        try:
            cmd = json.loads(raw)
        except (TypeError, ValueError):
            self.bad_cmds += 1
            log.warning("%s: cmd is not JSON: %r", self.client_id, raw)
            return
        cmd_id = cmd.get("id") if isinstance(cmd, dict) else None
        if not isinstance(cmd_id, str) or not 1 <= len(cmd_id) <= 64:
            self.bad_cmds += 1
            log.warning("%s: cmd without a valid id (1-64 chars): %r", self.client_id, raw)
            return
        now = time.monotonic()
        for old in [k for k, (t, _) in self._acks.items() if now - t > CMD_MEMORY_S]:
            del self._acks[old]
        if cmd_id in self._acks:
            self.repeated_cmds += 1
            self._queue_ack(self._acks[cmd_id][1])
            return
        op = cmd.get("op")
        try:
            if not isinstance(op, str):
                raise CmdError("bad_op")
            ack = {"id": cmd_id, "ok": True, **await self.execute(op, cmd)}
        except CmdError as e:
            ack = {"id": cmd_id, "ok": False, "error": e.code}
        self.executed_cmds += 1
        payload = _dumps(ack)
        self._acks[cmd_id] = (now, payload)
        self._queue_ack(payload)

    def _queue_ack(self, payload: str) -> None:
        self._acks_out.append(payload)
        self._outbox_changed.set()

    async def _activity(self) -> None:
        if self.rate_per_min <= 0:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate_per_min / 60.0))
            await self._powered.wait()
            self.spontaneous()

    # ---- running one device on its own -----------------------------------------------------
    async def __aenter__(self) -> MqttDevice:
        self._run_task = asyncio.create_task(self.run(), name=self.client_id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await shutdown_tasks([self], [self._run_task])


async def shutdown_tasks(devices: list[MqttDevice], tasks: list[asyncio.Task[None]], timeout: float = 2.0) -> None:
    """Stop devices cleanly; cancel whatever has not finished after `timeout` seconds."""
    for device in devices:
        device.stop()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    await cancel_and_wait(pending)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("device task failed: %r", result)


async def _end_misc_task(client: aiomqtt.Client) -> None:
    """aiomqtt starts its keep-alive task from paho's connect thread; a connection that closes
    before that task exists never cancels it, and it runs on for up to a second after the client
    has gone. End it with the session."""
    await asyncio.sleep(0)  # let a creation scheduled from that thread run first
    task = getattr(client, "_misc_task", None)
    if task is not None and not task.done():
        await cancel_and_wait([task])


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel tasks and wait until they are done.

    Cancels again while a task is still running: on Python 3.11 `asyncio.wait_for` (used inside
    aiomqtt's publish) can swallow a cancellation that races with the awaited result.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" noise
