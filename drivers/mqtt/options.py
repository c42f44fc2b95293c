"""What an MQTT link is told (`MqttOptions`, `Will`) and what it hands back (`Message`, `LinkStats`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from drivers.tls import TlsOptions


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
