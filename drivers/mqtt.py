"""MQTT transport: paho-mqtt driven by the asyncio loop, with manual acknowledgement.

paho rather than aiomqtt because QoS 1 messages must be acknowledged to the broker only after
their records are durable, and only paho exposes that (`manual_ack`); its own network code is
also the fastest Python subscriber measured here. Its socket is driven by the event loop (no
network thread). Received messages are handed over in batches, so the consumer can commit a
whole batch in one transaction and then acknowledge it.

Over TLS (`MqttOptions.tls`) the broker is always verified; see drivers/tls.py.

Knows nothing of devices: topics in, bytes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.backoff import full_jitter
from drivers.tls import TlsOptions, client_context, describe_tls_error

log = logging.getLogger(__name__)


class Message(NamedTuple):
    """One received message. A named tuple: built once per message, it is the cheapest immutable record."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    session: int  # which connection delivered it: an ack never crosses a reconnect


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class MqttOptions:
    host: str
    port: int
    client_id: str
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    receive_maximum: int = 2000
    session_expiry_s: int = 7 * 24 * 3600  # keep our queue at the broker through a week's outage
    will: Will | None = None
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # Messages arriving within a window share one batch: one commit (one fsync), one write of
    # their acknowledgements, one pass of the projections. Short while traffic is light, so a lone
    # message (a command's ack) is not held up. Busy (the last batch came at `busy_rate` msg/s or
    # more), the window is `busy_window_s` and the socket is read when it closes, not woken for
    # each message: at a steady 2,000 msg/s, ~100 messages a batch and ~20 wake-ups a second
    # rather than ~10 a batch and hundreds. A batch that reaches `batch_max` goes at once (waiting
    # buys nothing then). The acknowledgements held never exceed the broker's window: MQTT 5 only,
    # where the broker keeps to our receive_maximum (batch_max is at most half of it); an MQTT
    # 3.1.1 broker has a window of its own (Mosquitto: 20 messages) that we cannot see, so a
    # 3.1.1 link keeps the short window.
    batch_window_s: float = 0.005
    busy_window_s: float = 0.05
    busy_rate: float = 1000.0
    batch_max: int = 500
    connect_timeout_s: float = 10.0
    tls: TlsOptions | None = None


@dataclass
class LinkStats:
    connected: bool = False
    # Every subscription of this connection acknowledged (SUBACK, each granted): only then does
    # the broker route the filters' messages to us. A session that never existed queues nothing.
    subscribed: bool = False
    connects: int = 0
    connection_losses: int = 0
    messages_in: int = 0
    last_error: str | None = None
    batches_failed: int = 0  # on_batch raised: nothing acknowledged, reconnected for redelivery
    last_batch_error: str | None = None


@dataclass
class _Session:
    number: int
    connack: asyncio.Future[int]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    # on_batch failed: what this session still delivers comes again after the reconnect
    batch_failed: bool = False


READ_AHEAD = 65536
_PUBACK = struct.Struct("!BBH")  # a PUBACK: fixed header, remaining length 2, packet id


class _Client(paho.Client):
    """paho's client with two shortcuts on the path every message takes (paho 2.2 internals, pinned,
    checked by tests/test_mqtt_fast.py against paho's own code):

    - a well-formed QoS 0/1 PUBLISH goes straight to `on_fast_message(topic, payload, qos,
      retain, mid)`: no MQTTMessage, no topic-filter walk and no MQTT 5 Properties object per
      message (their parsing was about a sixth of the gateway's CPU per message). Properties
      are skipped, not read: the gateway uses none, and it never allows topic aliases, so a
      PUBLISH always names its topic. Anything else (QoS 2, an empty or non-UTF-8 topic, a
      malformed packet) takes paho's own path, with its errors.
    - `ack_many` queues the PUBACKs of a batch as one write: one send() and one TCP segment
      rather than one per message.
    """

    on_fast_message: Callable[[str, bytes, int, bool, int], None] | None = None
    # Read ahead: paho asks the socket for 1 byte, 1 byte (or more), then the rest of each packet,
    # three system calls a message; one recv of up to READ_AHEAD bytes serves many messages.
    _rbuf: bytes = b""
    _rpos: int = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(READ_AHEAD)  # raises as paho's own does; b"" at the end
            if not buf:
                return buf
            self._rbuf, pos = buf, 0
        self._rpos = pos + bufsize
        return buf[pos : pos + bufsize]

    def buffered(self) -> bool:
        """Bytes read from the socket that paho has not taken yet (poll cannot see them)."""
        return self._rpos < len(self._rbuf)

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0  # what the old connection sent is not the new one's
        super()._sock_close()

    def _handle_publish(self) -> paho.MQTTErrorCode:
        fast = self.on_fast_message
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if fast is None or qos == 2:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            if end > len(packet):
                raise ValueError("topic longer than the packet")
            topic = packet[2:end].decode("utf-8")
            pos = end
            mid = 0
            if qos:
                mid = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
            if self._protocol == paho.MQTTv5:
                length, shift = 0, 0  # the properties' length: a variable byte integer
                while True:
                    b = packet[pos]
                    pos += 1
                    length |= (b & 0x7F) << shift
                    if not b & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise ValueError("properties length of more than 4 bytes")
                pos += length
                if pos > len(packet):
                    raise ValueError("properties longer than the packet")
            if not topic:
                raise ValueError("no topic")
            payload = bytes(memoryview(packet)[pos:])
        except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
            return super()._handle_publish()
        with self._in_callback_mutex:
            fast(topic, payload, qos, bool(header & 0x01), mid)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return paho.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages (manual_ack) with one queued write of all their PUBACKs."""
        if len(mids) == 1:
            self.ack(mids[0], 1)
        elif mids:
            data = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
            self._packet_queue(PUBACK, data, mids[-1], 1)


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
        self._loop_thread = 0
        self._pending: list[Message] = []
        self._poll = select.poll()  # the current socket's, registered when it opens
        self._reader: Any = None  # the socket the loop watches for reading
        self._paused = False  # its reader is off while a batch's window is open
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
        self._misc: asyncio.Task[None] | None = None
        self._failures_in_row = 0  # batches failed since the last one stored
        self._paho_error: str | None = None  # paho's last error log line while connecting
        self._client = self._make_client()

    def _make_client(self) -> _Client:
        o = self.options
        v5 = o.protocol == "5"
        client = _Client(
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
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return client

    # -- public ---------------------------------------------------------------------------

    async def __aenter__(self) -> MqttLink:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
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
        self._drop_socket()
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
            self._drop_socket()
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

    def _drop_socket(self) -> None:
        self._reader, self._paused = None, False
        sock = self._client.socket()
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        if self._misc:
            self._misc.cancel()
            self._misc = None
        with contextlib.suppress(Exception):
            self._client._sock_close()  # paho has no public "forget this socket"

    async def _published(self, info: paho.MQTTMessageInfo) -> None:
        while not info.is_published():
            await asyncio.sleep(0.01)

    # -- paho callbacks (on the loop, or from the connect thread, hence _call) --------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: paho.Client, _u: Any, sock: Any) -> None:
        # Nagle holds a small packet (a PUBACK, a command) until the last one is acked: ~40 ms
        # with delayed ACKs. A TLS or WebSocket wrapper may not take the option: then it waits.
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def opened() -> None:
            assert self._loop is not None
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
            self._reader, self._paused = sock, False
            self._loop.add_reader(sock, self._read)
            self._misc = self._loop.create_task(self._misc_loop())

        self._call(opened)

    def _read(self) -> None:
        self._read_waiting()
        if self._flush_scheduled and self._busy and self._reader is not None and self._loop is not None:
            # A batch is gathering: leave the socket alone until its window closes, then read what
            # came meanwhile in one go (_flush). At a steady rate that is one wake-up per window,
            # not one per message; nothing waits longer than it would have anyway.
            self._loop.remove_reader(self._reader)
            self._paused = True

    def _resume(self) -> None:
        if self._paused and self._reader is not None and self._loop is not None:
            self._paused = False
            self._loop.add_reader(self._reader, self._read)

    def _read_waiting(self) -> None:
        # Read every packet already waiting, so that a burst becomes one batch (one commit, one
        # loop iteration) rather than one per message. paho's loop_read reads a single incoming
        # packet whatever max_packets says.
        client = self._client
        sock = client.socket()
        pending = getattr(sock, "pending", None)  # TLS: decrypted bytes poll cannot see
        poll = self._poll.poll  # registered once per socket: cheaper than a select() per packet
        for _ in range(self.options.receive_maximum):
            rc = client.loop_read()
            if rc != paho.MQTT_ERR_SUCCESS:
                if self._session and not self._session.lost.is_set():
                    self.stats.last_error = f"read failed: {paho.error_string(rc)}"
                return
            if client.socket() is not sock:
                return  # closed (or replaced) by what was read
            if not client.buffered() and not (pending and pending()) and not poll(0):
                return
        if client.buffered() and self._loop is not None:
            # Stopped at the limit with bytes already read ahead: the socket may have nothing more
            # to wake the reader, so come back for them.
            self._loop.call_soon(self._read)

    def _on_socket_close(self, client: paho.Client, _u: Any, sock: Any) -> None:
        def closed() -> None:
            assert self._loop is not None
            if self._reader is sock:
                self._reader, self._paused = None, False
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

        self._call(closed)

    def _on_register_write(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self._call(lambda: self._loop and self._loop.add_writer(sock, self._client.loop_write))

    def _on_unregister_write(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self._call(lambda: self._loop and self._loop.remove_writer(sock))

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)

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

        self._call(done)

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

        self._call(lost)

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

        self._call(acked)

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
        if self._paused and self._reader is not None and len(self._pending) < self._batch_max:
            self._read_waiting()  # what arrived while the window was open joins this batch
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        o = self.options
        window = o.busy_window_s if self._busy else o.batch_window_s
        self._busy = self._may_be_busy and len(batch) >= o.busy_rate * window
        try:
            self._hand_over(batch)
        finally:
            if self._busy and len(batch) < self._batch_max and self._paused and self._reader and self._loop:
                # Steady traffic: the next window's messages are read when it closes, without a
                # wake-up for the first of them. A full batch reads on at once (a backlog waits).
                self._flush_scheduled = True
                self._flush_timer = self._loop.call_later(o.busy_window_s, self._flush)
            else:
                self._resume()

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
