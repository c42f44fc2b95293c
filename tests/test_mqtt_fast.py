"""The MQTT link's shortcuts through paho (drivers/mqtt/client.py `FastClient`) against paho's own code: the
same topic, payload, QoS, retain flag and packet id for every PUBLISH paho itself would decode,
paho's own errors for the packets it refuses, byte-identical PUBACKs when acknowledged together,
and a real broker's messages with MQTT 5 properties arriving whole and acknowledged once."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.mqtt.client import FastClient as _Client
from drivers.mqtt.link import MqttLink
from drivers.mqtt.options import Message, MqttOptions
from tests.servers import Mosquitto
from tests.waits import until


def _publish_packet(topic: bytes, payload: bytes, qos: int, mid: int, props: bytes | None) -> tuple[int, bytearray]:
    """(fixed header byte, what follows the remaining length), as paho keeps it in `_in_packet`."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if props is not None:
        body += props
    return 0x30 | (qos << 1) | 1, bytearray(body + payload)  # retain set


def _props(**values: Any) -> bytes:
    p = Properties(PacketTypes.PUBLISH)
    for k, v in values.items():
        setattr(p, k, v)
    return p.pack()


V5_PROPS = [
    _props(),
    _props(MessageExpiryInterval=30, ContentType="application/json"),
    _props(UserProperty=[("k", "v" * 200)]),  # properties over 127 bytes: a two-byte length
]
CASES = [
    (topic, payload, qos, props, v5)
    for topic in (b"hall/s/rating/rp-1/event", "hall/站/评价器/event".encode())
    for payload in (b"", b'{"score": 5}', b"x" * 300)
    for qos in (0, 1)
    for props, v5 in [*((p, True) for p in V5_PROPS), (None, False)]
]


def _client(v5: bool) -> _Client:
    return _Client(
        CallbackAPIVersion.VERSION2,
        client_id="fast-test",
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        manual_ack=True,
    )


@pytest.mark.parametrize(("topic", "payload", "qos", "props", "v5"), CASES)
def test_a_publish_decodes_as_paho_decodes_it(topic: bytes, payload: bytes, qos: int, props: bytes, v5: bool) -> None:
    header, packet = _publish_packet(topic, payload, qos, 4321, props)
    want = _packet.decode_publish(header, bytes(packet), paho.MQTTv5 if v5 else paho.MQTTv311)
    client = _client(v5)
    got: list[tuple[str, bytes, int, bool, int]] = []
    client.on_fast_message = lambda *args: got.append(args)
    client._in_packet = {"command": header, "packet": packet}
    assert client._handle_publish() == paho.MQTT_ERR_SUCCESS
    assert got == [(want.topic.decode(), want.payload, want.qos, want.retain, want.mid)]
    assert type(got[0][1]) is bytes


@pytest.mark.parametrize(
    ("topic", "tail"),
    [
        (b"", b"{}"),  # MQTT 3.1.1 refuses an empty topic
        (b"hall/x", b""),  # the packet id cut off
        (b"\xff\xfe", b"\x00\x01{}"),  # a topic that is not UTF-8: paho's message raises on .topic
    ],
)
def test_what_it_does_not_take_goes_through_paho(topic: bytes, tail: bytes) -> None:
    packet = bytearray(struct.pack("!H", len(topic)) + topic + tail)
    header = 0x32  # QoS 1
    client = _client(v5=False)
    fast: list[Any] = []
    slow: list[paho.MQTTMessage] = []
    client.on_fast_message = lambda *args: fast.append(args)
    client.on_message = lambda _c, _u, m: slow.append(m)
    client._in_packet = {"command": header, "packet": packet}
    try:
        client._handle_publish()
    except Exception as e:  # whatever paho raises for it, the shortcut raises too
        with pytest.raises(type(e)):
            _packet.decode_publish(header, bytes(packet), paho.MQTTv311)
    assert fast == []


def test_acks_together_are_the_same_bytes_as_one_by_one() -> None:
    one, many = _client(v5=True), _client(v5=True)
    mids = [1, 2, 300, 65535]
    for mid in mids:
        one.ack(mid, 1)
    many.ack_many(mids)
    many.ack_many([])
    many.ack_many([7])
    one.ack(7, 1)
    assert b"".join(p["packet"] for p in many._out_packet) == b"".join(p["packet"] for p in one._out_packet)
    assert len(many._out_packet) == 2  # the four in one write, then the single one


async def subscribed(batches: list[list[Message]], prefix: str) -> None:
    """Wait until the link's subscription under `prefix/#` is in place, then forget the marker it
    brought: a retained message, which the broker sends only in answer to the SUBSCRIBE (and, on a
    resumed session, after whatever that session still had to deliver)."""
    await until(lambda: _topics(batches).count(f"{prefix}/ready") == 1, what=f"{prefix}/# subscribed")
    batches.clear()


def _topics(batches: list[list[Message]]) -> list[str]:
    return [m.topic for b in batches for m in b]


def _mark(pub: paho.Client, prefix: str) -> None:
    pub.publish(f"{prefix}/ready", b"ready", qos=1, retain=True).wait_for_publish(5)


def test_messages_with_properties_arrive_whole_and_are_acknowledged_once(mosquitto: Mosquitto) -> None:
    asyncio.run(_with_properties(mosquitto))


async def _with_properties(mosquitto: Mosquitto) -> None:
    batches: list[list[Message]] = []
    opts = MqttOptions(host=mosquitto.host, port=mosquitto.port, client_id="fast-sub")
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="fast-pub", protocol=paho.MQTTv5)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    _mark(pub, "fast")
    try:
        async with MqttLink(opts, batches.append, [("fast/#", 1)]):
            await subscribed(batches, "fast")
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("a", "b" * 300)]
            props.MessageExpiryInterval = 60
            sent = [(f"fast/{i}", f'{{"i": {i}}}'.encode() * (i + 1), i % 2) for i in range(50)]
            for topic, payload, qos in sent:
                pub.publish(topic, payload, qos=qos, properties=props)
            await until(lambda: sum(map(len, batches)) >= len(sent), what="every message")
            got = [(m.topic, m.payload, m.qos) for b in batches for m in b]
            assert sorted(got) == sorted(sent)
        # Acknowledged: the same session gets none of them again.
        batches.clear()
        async with MqttLink(opts, batches.append, [("fast/#", 1)]):
            # What the session still had to deliver comes before the marker: nothing but it.
            await until(lambda: "fast/ready" in _topics(batches), what="resubscribed")
            assert _topics(batches) == ["fast/ready"]
    finally:
        pub.disconnect()
        pub.loop_stop()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_steady_traffic_gets_the_busy_window_and_a_lone_message_the_short_one(
    mosquitto: Mosquitto, protocol: str
) -> None:
    asyncio.run(_windows(mosquitto, protocol))


async def _windows(mosquitto: Mosquitto, protocol: Any) -> None:
    batches: list[list[Message]] = []
    opts = MqttOptions(host=mosquitto.host, port=mosquitto.port, client_id=f"win-{protocol}", protocol=protocol)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"win-pub-{protocol}")
    pub.max_inflight_messages_set(2000)
    pub.max_queued_messages_set(0)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    _mark(pub, "win")
    try:
        async with MqttLink(opts, batches.append, [("win/#", 1)]) as link:
            await subscribed(batches, "win")
            pub.publish("win/lone", b"1", qos=1)
            await until(lambda: len(batches) == 1, what="the lone message")
            assert not link._busy
            # 2,000 msg/s for a second, in 2 ms steps.
            loop = asyncio.get_running_loop()
            start = loop.time()
            for step in range(500):
                for i in range(4):
                    pub.publish("win/steady", str(step * 4 + i).encode(), qos=1)
                await asyncio.sleep(max(0.0, start + (step + 1) * 0.002 - loop.time()))
            await until(lambda: sum(map(len, batches)) == 2001, what="every message")
            steady = [len(b) for b in batches[1:]]
            if protocol == "5":
                assert link._busy or max(steady) >= 50, steady
                assert len(steady) < 100, steady  # ~20 batches at 50 ms (the 5 ms window: ~200)
                assert max(steady) <= 2000  # never more than the broker's window (receive maximum)
            else:
                assert not link._busy  # 3.1.1: the broker's window is its own; the short window only
            got = sorted(int(m.payload) for b in batches[1:] for m in b)
            assert got == list(range(2000))
        batches.clear()
        async with MqttLink(opts, batches.append, [("win/#", 1)]):  # all acknowledged
            await until(lambda: "win/ready" in _topics(batches), what="resubscribed")
            assert _topics(batches) == ["win/ready"]
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_a_burst_read_ahead_arrives_whole_and_in_order(mosquitto: Mosquitto) -> None:
    """Many small messages and ones larger than the read-ahead buffer, in one burst: every byte in
    its place, in publish order (one topic, QoS 1)."""
    asyncio.run(_burst(mosquitto))


async def _burst(mosquitto: Mosquitto) -> None:
    from drivers.mqtt.client import READ_AHEAD

    batches: list[list[Message]] = []
    opts = MqttOptions(host=mosquitto.host, port=mosquitto.port, client_id="burst-sub")
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="burst-pub")
    pub.max_inflight_messages_set(3000)
    pub.max_queued_messages_set(0)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    _mark(pub, "burst")
    try:
        async with MqttLink(opts, batches.append, [("burst/#", 1)]):
            await subscribed(batches, "burst")
            sent = [
                (bytes([i % 251]) * (3 * READ_AHEAD + 17) if i % 500 == 7 else f"{i}".encode()) for i in range(2500)
            ]
            for payload in sent:
                pub.publish("burst/x", payload, qos=1)
            await until(lambda: sum(map(len, batches)) >= len(sent), what="every message", timeout=30)
            assert [m.payload for b in batches for m in b] == sent
    finally:
        pub.disconnect()
        pub.loop_stop()
