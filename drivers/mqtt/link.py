"""The MQTT link: paho-mqtt driven by the asyncio loop, with manual acknowledgement.

paho rather than aiomqtt because QoS 1 messages must be acknowledged to the broker only after
their records are durable, and only paho exposes that (`manual_ack`); its own network code is
also the fastest Python subscriber measured here. Its socket is driven by the event loop (no
network thread: pump.py). Received messages are handed over in batches, so the consumer can
commit a whole batch in one transaction and then acknowledge it (a batch's PUBACKs in one write:
client.py).

Over TLS (`MqttOptions.tls`) the broker is always verified; see drivers/tls.py.

Knows nothing of devices: topics in, bytes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.backoff import full_jitter
from drivers.mqtt.client import FastClient
from drivers.mqtt.options import LinkStats, Message, MqttOptions
from drivers.mqtt.pump import SocketPump
from drivers.tls import client_context, describe_tls_error

log = logging.getLogger("drivers.mqtt")  # the name operators' logging settings know


@dataclass
class _Session:
    number: int
    connack: asyncio.Future[int]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    # on_batch failed: what this session still delivers comes again after the reconnect
    batch_failed: bool = False


class MqttLink:
    """`async with MqttLink(opts, on_batch, subscriptions) as link:` stays connected until exit.

    `on_batch(messages)` runs on the event loop; when it returns without raising, the batch is
    acknowledged. If it raises, nothing is acknowledged and the connection is dropped, so the
    broker delivers the batch again after the reconnect (MQTT has no negative acknowledgement;
    a broker redelivers only on a new connection). The reconnect waits a backoff that grows
    with each batch failing in a row, so a failure that persists (a full disk) costs a
    reconnect every `backoff_max_s` at most, not a reconnect loop.
    """

    def __init__(
        self,
        options: MqttOptions,
        on_batch: Callable[[list[Message]], None],
        subscriptions: Sequence[tuple[str, int]] = (),
        on_connect: Callable[[MqttLink], None] | None = None,
        *,
        rng: Callable[[], float] = random.random,  # the backoff's jitter; tests pin it
    ) -> None:
        self.options = options
        self.stats = LinkStats()
        self._rng = rng
        self._retry = asyncio.Event()  # set: a reconnect's backoff ends now (retry_now)
        self._on_batch = on_batch
        self._subscriptions = list(subscriptions)
        self._on_connect_cb = on_connect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Message] = []
        self._flush_scheduled = False
        self._flush_timer: asyncio.TimerHandle | asyncio.Handle | None = None
        # Busy: the last batch came at busy_rate or more; it gets the longer window (MQTT 5 only).
        self._busy = False
        self._may_be_busy = options.protocol == "5"
        self._batch_max = max(1, min(options.batch_max, options.receive_maximum // 2))
        self._session: _Session | None = None
        self._sessions = 0
        self._subscribe_mid: int | None = None  # this connection's SUBSCRIBE, until its SUBACK
        self._task: asyncio.Task[None] | None = None
        self._failures_in_row = 0  # batches failed since the last one stored
        self._paho_error: str | None = None  # paho's last error log line while connecting
        self._client = self._make_client()
        self._pump = SocketPump(self._client, options.receive_maximum, self._read_failed)
        self._pump.hold = self._gathering

    def _make_client(self) -> FastClient:
        o = self.options
        v5 = o.protocol == "5"
        client = FastClient(
            CallbackAPIVersion.VERSION2,
            client_id=o.client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if o.username:
            client.username_pw_set(o.username, o.password)
        if o.will:
            client.will_set(o.will.topic, o.will.payload, o.will.qos, o.will.retain)
        if o.tls:
            client.tls_set_context(client_context(o.tls))
            log.info(
                "mqtt %s:%s: TLS, server name %s, CA %s, client certificate %s",
                o.host,
                o.port,
                o.tls.server_name or o.host,
                o.tls.ca_file or "(system trust store)",
                o.tls.cert_file or "none",
            )
        # Far more in-flight QoS 1 messages than the default 20, so waiting for the outbox
        # commit before acknowledging does not throttle the broker.
        client.max_inflight_messages_set(o.receive_maximum)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_fast_message = self._on_fast_message
        return client

    # -- public ---------------------------------------------------------------------------

    async def __aenter__(self) -> MqttLink:
        self._loop = asyncio.get_running_loop()
        self._pump.attach(self._loop)
        self._task = asyncio.create_task(self._run(), name=f"mqtt {self.options.client_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, will_payload: bytes | None = None, will_topic: str | None = None) -> None:
        """Disconnect cleanly; with `will_payload`, publish it (retained) first, e.g. a clean 'offline'."""
        if self._task is None:
            return
        if self.stats.connected and will_payload is not None and will_topic is not None:
            info = self._client.publish(will_topic, will_payload, qos=1, retain=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._published(info)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.stats.connected:
            self._client.disconnect()
        self._pump.drop()
        self.stats.connected = False

    def _ack(self, messages: Iterable[Message]) -> None:
        session = self._session.number if self._session else -1
        mids = []
        for m in messages:
            if m.qos == 1 and m.session == session:
                mids.append(m.mid)
            elif m.qos and m.session == session:
                self._client.ack(m.mid, m.qos)
        self._client.ack_many(mids)

    def unsubscribe(self, filters: Sequence[str]) -> None:
        """Drop filters a persistent session holds, e.g. from an earlier configuration."""
        if filters:
            self._client.unsubscribe(list(filters))

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, expiry_s: float | None = None
    ) -> paho.MQTTMessageInfo:
        """`expiry_s`: a broker that has not delivered the message by then drops it. Whole seconds,
        rounded down and at least 1, so it never outlives the caller's wait: a command answered 504
        is not delivered later to a device coming back. MQTT 3.1.1 has no expiry: there such a
        message goes at QoS 0, which a broker delivers only to a device connected now, never
        queued for one that is away (the caller's confirmation, not QoS, says it arrived)."""
        props = None
        if expiry_s is not None:
            if self.options.protocol == "5":
                props = Properties(PacketTypes.PUBLISH)
                props.MessageExpiryInterval = max(1, int(expiry_s))
            else:
                qos = 0
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)

    # -- connection loop ------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect_once()
                assert self._session is not None
                await self._session.lost.wait()
                # A connection that ended because a batch failed keeps the backoff growing (the
                # broker will hand us the same batch again); any other starts over.
                attempt = self._failures_in_row
            except ssl.SSLError as e:
                self.stats.last_error = describe_tls_error(e, self._server_name)
            except (OSError, TimeoutError, ConnectionError) as e:
                self.stats.last_error = f"{type(e).__name__}: {e}"
            finally:
                self._client.on_log = None
            self.stats.connected = self.stats.subscribed = False
            self._pump.drop()
            delay = full_jitter(attempt, self._rng, self.options.backoff_base_s, self.options.backoff_max_s)
            attempt += 1
            log.warning(
                "mqtt %s:%s: %s; reconnecting in %.1f s",
                self.options.host,
                self.options.port,
                self.stats.last_error,
                delay,
            )
            self._retry.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry.wait(), delay)

    def retry_now(self) -> None:
        """End a reconnect's backoff now: what made the batches fail (a full disk) is known to be
        gone, so the broker may deliver them again without waiting up to `backoff_max_s`."""
        self._retry.set()

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        self._sessions += 1
        self._session = _Session(self._sessions, loop.create_future())
        o = self.options
        props = None
        if o.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = o.session_expiry_s
            props.ReceiveMaximum = o.receive_maximum
        # A TCP connect may block (a dead uplink): do it off the loop; paho's socket callbacks
        # hop back onto the loop.
        kwargs: dict[str, Any] = {"keepalive": o.keepalive_s}
        if o.protocol == "5":
            kwargs |= {"clean_start": False, "properties": props}
        # Until the CONNACK, keep paho's error log lines: it swallows socket errors into a bare
        # "connection lost", and one of them says why (a TLS alert: "certificate required").
        self._paho_error = None
        self._client.on_log = self._on_log
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that arrives as
        # the CONNACK does, and close() then waits forever for a task that will not stop.
        async with asyncio.timeout(o.connect_timeout_s):
            await asyncio.to_thread(self._client.connect, o.host, o.port, **kwargs)
        async with asyncio.timeout(o.connect_timeout_s):
            rc = await self._session.connack
        self._client.on_log = None  # paho formats a debug line per message while one is set
        if rc != 0:
            raise ConnectionError(f"broker refused the connection: {paho.connack_string(rc)}")
        if self._subscriptions:
            _, self._subscribe_mid = self._client.subscribe(self._subscriptions)
        if self._on_connect_cb:
            self._on_connect_cb(self)

    @property
    def _server_name(self) -> str:
        tls = self.options.tls
        return (tls.server_name if tls else None) or self.options.host

    def _on_log(self, client: paho.Client, _u: Any, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR:
            self._paho_error = text

    def _read_failed(self, why: str) -> None:
        if self._session and not self._session.lost.is_set():
            self.stats.last_error = why

    def _gathering(self) -> bool:
        """A busy batch's window is open: the pump leaves the socket unread until it closes."""
        return self._flush_scheduled and self._busy

    async def _published(self, info: paho.MQTTMessageInfo) -> None:
        while not info.is_published():
            await asyncio.sleep(0.01)

    # -- paho callbacks (on the loop, or from the connect thread, hence the pump's call) ----

    def _on_connect(self, client: paho.Client, _u: Any, _flags: Any, reason: Any, _p: Any = None) -> None:
        code = reason.value if hasattr(reason, "value") else int(reason)
        session = self._session

        def done() -> None:
            if session and not session.connack.done():
                if code == 0:
                    # Here rather than after the await in _connect_once: the session's queued
                    # messages arrive in the same read as the CONNACK and may be handed over
                    # (and fail) before that coroutine resumes.
                    self.stats.connected = True
                    self.stats.subscribed = not self._subscriptions
                    self.stats.connects += 1
                    self.stats.last_error = None
                session.connack.set_result(code)

        self._pump.call(done)

    def _on_disconnect(self, client: paho.Client, _u: Any, _flags: Any, reason: Any, _p: Any = None) -> None:
        session = self._session

        def lost() -> None:
            if session is None:
                return
            if self.stats.connected and not session.batch_failed:
                self.stats.connection_losses += 1
                self.stats.last_error = f"connection lost: {reason}"
            if not session.connack.done():
                why = f"{reason}: {self._paho_error}" if self._paho_error else str(reason)
                if self.options.tls and self._paho_error and "alert" in self._paho_error:
                    why += " (the broker refused our TLS handshake: check broker.tls.cert_file and key_file)"
                session.connack.set_exception(ConnectionError(f"connection closed: {why}"))
            session.lost.set()

        self._pump.call(lost)

    def _on_subscribe(self, client: paho.Client, _u: Any, mid: int, codes: Any, _p: Any = None) -> None:
        def acked() -> None:
            if mid != self._subscribe_mid:
                return
            refused = [str(c) for c in codes if (c.value if hasattr(c, "value") else int(c)) >= 0x80]
            self._subscribe_mid = None
            self.stats.subscribed = not refused
            if refused:
                self.stats.last_error = f"the broker refused subscriptions: {', '.join(refused)}"
                log.error("mqtt %s: %s", self.options.client_id, self.stats.last_error)

        self._pump.call(acked)

    def _on_message(self, client: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._on_fast_message(msg.topic, msg.payload, msg.qos, msg.retain, msg.mid)

    def _on_fast_message(self, topic: str, payload: bytes, qos: int, retain: bool, mid: int) -> None:
        session = self._session
        assert session is not None
        if session.batch_failed:
            return  # the broker delivers it again after the reconnect, with the failed batch
        self.stats.messages_in += 1
        pending = self._pending
        pending.append(Message(topic, payload, qos, retain, mid, session.number))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self._loop is not None
            window = self.options.busy_window_s if self._busy else self.options.batch_window_s
            self._flush_timer = self._loop.call_later(window, self._flush)
        elif len(pending) == self._batch_max and self._flush_timer is not None:
            self._flush_timer.cancel()
            assert self._loop is not None
            self._flush_timer = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        pump = self._pump
        if pump.paused and pump.reader is not None and len(self._pending) < self._batch_max:
            pump.read_waiting()  # what arrived while the window was open joins this batch
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        o = self.options
        window = o.busy_window_s if self._busy else o.batch_window_s
        self._busy = self._may_be_busy and len(batch) >= o.busy_rate * window
        try:
            self._hand_over(batch)
        finally:
            if self._busy and len(batch) < self._batch_max and pump.paused and pump.reader and self._loop:
                # Steady traffic: the next window's messages are read when it closes, without a
                # wake-up for the first of them. A full batch reads on at once (a backlog waits).
                self._flush_scheduled = True
                self._flush_timer = self._loop.call_later(o.busy_window_s, self._flush)
            else:
                pump.resume()

    def _hand_over(self, batch: list[Message]) -> None:
        if not batch:
            return
        session = self._session
        if session is None or session.batch_failed:
            return  # a failed session's leftovers: they come again after the reconnect
        try:
            self._on_batch(batch)
        except Exception as e:
            # Nothing of this batch is acknowledged: drop the connection so the broker delivers
            # it again once we are back; _run backs off first, longer each time in a row.
            self._failures_in_row += 1
            session.batch_failed = True
            self.stats.batches_failed += 1
            reason = f"batch of {len(batch)} not stored: {type(e).__name__}: {e}"
            self.stats.last_batch_error = self.stats.last_error = reason
            log.error(
                "mqtt: %s (%d in a row); nothing acknowledged, reconnecting for redelivery",
                reason,
                self._failures_in_row,
                exc_info=self._failures_in_row == 1,
            )
            self._client.disconnect()
            return
        self._failures_in_row = 0
        self._ack(batch)
