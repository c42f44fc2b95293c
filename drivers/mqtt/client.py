"""paho's client with its shortcuts on the path every message takes (paho 2.2 internals, pinned,
checked by tests/test_mqtt_fast.py against paho's own code)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
from paho.mqtt.client import PUBACK

READ_AHEAD = 65536
_PUBACK = struct.Struct("!BBH")  # a PUBACK: fixed header, remaining length 2, packet id


class FastClient(paho.Client):
    """paho's client with two shortcuts:

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
