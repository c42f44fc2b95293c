"""MQTT messages in, decoded events and their lines out: the part of ingest that needs no state.

Each message is decoded and turned into a line inside its own error boundary: what fails goes to
the batch's quarantine list and the rest go on. Used by the hub in one process, and by each
ingest worker (gateway/ingest/worker.py), which commits the lines itself and forwards the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho_topic

from drivers.mqtt.options import Message
from drivers.profiles.mqtt_json import DecodeError
from gateway.devices import DeviceEntry
from gateway.domain.canonical import Event, Priority
from gateway.kinds.contract import compile_contracts
from gateway.kinds.registry import KINDS
from gateway.store.journal import Quarantined
from gateway.store.points import PointError, to_line

log = logging.getLogger(__name__)

COMPLAIN_EVERY_NS = 60 * 10**9


@dataclass(slots=True)
class Decoded:
    """One batch, decoded. `records` are the lines to commit; the rest is for the projections."""

    events: list[Event] = field(default_factory=list)
    records: list[tuple[Priority, str]] = field(default_factory=list)
    bad: list[Quarantined] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # topics of devices that are not configured
    unknown_channels: list[tuple[str, str, str]] = field(default_factory=list)  # (device, channel, topic)
    commands_seen: int = 0


class Ingress:
    def __init__(self, site: str, devices: Mapping[str, DeviceEntry]) -> None:
        self.site = site
        # topic -> (device id, channel or None when the payload names it, decoder): one lookup a message.
        self.routes: dict[str, tuple[str, str | None, Any]] = {
            topic: (d.id, channel, d.decoder)
            for d in devices.values()
            if d.decoder is not None
            for topic, channel in d.decoder.topics(d.id, site, d.config.mqtt.topic if d.config.mqtt else None).items()
        }
        # a configured device's topic prefix -> the device: a level under it its profile does not
        # know is an unknown channel of that device, not a device that is not configured
        self.channel_bases = {
            topic.rpartition("/")[0]: device
            for topic, (device, channel, _) in self.routes.items()
            if channel is not None and topic.endswith(f"/{channel}")
        }
        self.discovery = f"hall/{site}/+/+/+"
        self.kinds = {d.id: d.kind for d in devices.values()}
        by_kind = compile_contracts(KINDS)
        # device -> its kind's word on events lacking a field (only devices whose kind has one).
        self.contracts = {d.id: by_kind[d.kind] for d in devices.values() if d.kind in by_kind}
        self._last_complaint: dict[str, int] = {}

    def subscriptions(self, share: str | None = None) -> list[tuple[str, int]]:
        """One filter for the hall's own topic tree, which also finds devices publishing there that are
        not configured, and exact topics for devices outside it. Never two filters matching one topic:
        the broker would deliver such a message twice. With `share`, each filter is a shared
        subscription of that group (MQTT 5): the broker hands each message to one member."""
        exact = [t for t in self.routes if not paho_topic.topic_matches_sub(self.discovery, t)]
        filters = [self.discovery, *exact]
        return [(f"$share/{share}/{f}" if share else f, 1) for f in filters]

    def decode(self, messages: Iterable[Message], now: int) -> Decoded:
        out = Decoded()
        for m in messages:
            route = self.routes.get(m.topic)
            if route is None:
                if m.topic.endswith("/cmd"):
                    out.commands_seen += 1  # commands to devices, ours included
                else:
                    self._unrouted(m, now, out)
                continue
            device, channel, decoder = route
            try:
                event = decoder.decode(device, channel, m.payload, now)
                contract = self.contracts.get(device)
                if contract is not None:
                    event = contract(event)
                line = to_line(event, self.site, self.kinds[device])  # refuses unencodable text
            except Exception as e:  # every failure of one message is that message's alone
                reason = reason_of(e)
                out.bad.append(Quarantined(now, device, m.topic, reason, str(e)[:500], m.payload))
                named = getattr(e, "channel", None)
                if reason == "unknown_channel" and isinstance(named, str):
                    out.unknown_channels.append((device, named, m.topic))  # named in the payload
                if reason == "internal":
                    log.exception("decoding a message on %s failed unexpectedly; quarantined", m.topic)
                elif self.may_complain(device, now):
                    log.warning(
                        "bad payload on %s (%s): %s (counted; further ones from %s are counted silently for a minute)",
                        m.topic,
                        reason,
                        str(e)[:200],
                        device,
                    )
                continue
            out.events.append(event)
            out.records.append((event.priority, line))
        return out

    def _unrouted(self, m: Message, now: int, out: Decoded) -> None:
        base, _, channel = m.topic.rpartition("/")
        device = self.channel_bases.get(base)
        if device is None:
            out.unknown.append(m.topic)
            return
        detail = f"channel {channel[:40]!r} is not in the profile of {device}"
        out.bad.append(Quarantined(now, device, m.topic, "unknown_channel", detail, m.payload))
        out.unknown_channels.append((device, channel[:64], m.topic))
        if self.may_complain(device, now):
            log.warning("%s on %s (counted per channel; quarantined)", detail, m.topic)

    def may_complain(self, key: str, now: int) -> bool:
        """At most one log line a minute per source, so garbage cannot flood the log."""
        if now - self._last_complaint.get(key, -(10**18)) >= COMPLAIN_EVERY_NS:
            self._last_complaint[key] = now
            return True
        return False


def reason_of(e: Exception) -> str:
    """A short code for counting: the decoder's own when it gives one."""
    if isinstance(e, DecodeError | PointError):
        code = getattr(e, "reason", None)
        return code if isinstance(code, str) else ("bad_payload" if isinstance(e, DecodeError) else "unstorable")
    if isinstance(e, UnicodeError):
        return "bad_text"
    if isinstance(e, RecursionError):
        return "too_deep"
    return "internal"
