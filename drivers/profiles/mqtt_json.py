"""Decode a vendor's MQTT JSON payloads into canonical events, as its profile says. No I/O.

The contract the hub relies on: `decode` raises DecodeError (with a `reason` code) for any bad
input whatever the bytes, and nothing else; an Event it returns has only declared, typed fields,
so it always becomes a writable point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from drivers.profiles.errors import DecodeError
from drivers.profiles.mqtt_model import Channel, MqttProfile
from drivers.profiles.specs import FieldSpec, Liveness, TimeSpec
from drivers.profiles.timefmt import TimeParser, parse_iso8601_ns, time_parser
from drivers.profiles.values import ABSENT, Convert, compile_value
from gateway.domain.canonical import Event

__all__ = ["DecodeError", "MqttDecoder", "parse_iso8601_ns"]

Getter = Callable[[dict[str, Any]], Any]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} overflows a float")
    return value


# One decoder for every message: json.loads with hooks builds a new JSONDecoder per call.
_JSON = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _getter(path: str) -> Getter:
    keys = path.split(".")
    if len(keys) == 1:
        key = keys[0]
        return lambda obj: obj.get(key)

    def get(obj: dict[str, Any]) -> Any:
        node: Any = obj
        for k in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(k)
        return node

    return get


def _depth_exceeds(obj: Any, limit: int) -> bool:
    """Iteratively (no recursion to exhaust): is any value nested deeper than `limit`?"""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _compile_field(name: str, spec: FieldSpec, profile: MqttProfile) -> tuple[str, Getter, Convert]:
    where = f"{name} ({spec.source or name})"
    convert = compile_value(
        where,
        spec.type,
        minimum=spec.min,
        maximum=spec.max,
        enum=spec.enum,
        vmap=spec.map,
        ranges=None if spec.ranges is None else [(b.min, b.max, b.value) for b in spec.ranges],
        max_length=spec.max_length,
        max_string=profile.limits.max_string,
        max_items=profile.limits.max_items,
        absent=spec.absent or (),
    )
    return name, _getter(spec.source or name), convert


@dataclass(frozen=True, slots=True)
class _CompiledChannel:
    event: str | None
    type_get: Getter | None
    types: dict[str, str]
    fields: tuple[tuple[str, Getter, Convert], ...]
    required: tuple[str, ...]
    arrival: bool
    ts_get: Getter
    ts_parse: TimeParser
    ts_name: str
    will: tuple[tuple[Getter, Any], ...] | None


class MqttDecoder:
    """A profile compiled once into per-channel getters and converters (no lookups by name per message).

    `hall_tz` places naive local device times when the profile names no `timestamp.timezone`.
    """

    def __init__(self, profile: MqttProfile, hall_tz: str | tzinfo = UTC) -> None:
        self.profile = profile
        self.hall_tz = ZoneInfo(hall_tz) if isinstance(hall_tz, str) else hall_tz
        self._limits = profile.limits
        self._channels = {name: self._compile_channel(ch) for name, ch in profile.channels.items()}
        self._seq_get = _getter(profile.seq_field) if profile.seq_field else None
        self._channel_get = _getter(profile.channel_field) if profile.channel_field else None

    def _compile_channel(self, ch: Channel) -> _CompiledChannel:
        p = self.profile
        ts: TimeSpec = ch.timestamp or p.timestamp
        tz = ZoneInfo(ts.timezone) if ts.timezone else self.hall_tz
        return _CompiledChannel(
            event=ch.event,
            type_get=_getter(ch.type_field) if ch.type_field else None,
            types=dict(ch.types),
            fields=tuple(_compile_field(name, spec, p) for name, spec in ch.fields.items()),
            required=tuple(ch.required),
            arrival=ch.time == "arrival",
            ts_get=_getter(ts.field),
            ts_parse=time_parser(ts.format, tz, ts.require_offset),
            ts_name=ts.field,
            will=None if ch.will is None else tuple((_getter(k), v) for k, v in ch.will.items()),
        )

    # -- what the gateway needs to know about the device -----------------------------------

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    @property
    def liveness(self) -> Liveness:
        return self.profile.liveness

    def field_types(self, channel: str) -> dict[str, str]:
        """The declared canonical type of each field the channel can produce (seq is an int)."""
        ch = self.profile.channels[channel]
        types = {name: spec.type for name, spec in ch.fields.items()}
        if self.profile.seq_field:
            types["seq"] = "int"
        return types

    def topics(self, device_id: str, site: str, base: str | None = None) -> dict[str, str | None]:
        """The exact topics the device publishes on -> their channel (None: the payload names it).

        `base` is a device's configured topic (the legacy `mqtt.topic`): channels are levels under it.
        """
        p = self.profile
        if base is not None:
            if p.channel_field is not None:
                return {base: None}
            return {f"{base}/{c}": c for c in self._channels}
        if p.channel_field is not None:
            return {p.topic.format(site=site, topic_kind=p.topic_kind, device=device_id): None}
        return {
            p.topic.format(site=site, topic_kind=p.topic_kind, device=device_id, channel=c): c for c in self._channels
        }

    def command_topic(self, device_id: str, site: str, channel: str, base: str | None = None) -> str:
        """Where a command published on `channel` (from encode_mqtt_command) goes."""
        p = self.profile
        if base is not None:
            return f"{base}/{channel}"
        template = p.command_topic or p.topic
        return template.format(site=site, topic_kind=p.topic_kind, device=device_id, channel=channel)

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, device: str, channel: str | None, payload: bytes, received_ns: int) -> Event:
        """One message -> one canonical Event. Raises DecodeError, and only DecodeError."""
        try:
            return self._decode(device, channel, payload, received_ns)
        except DecodeError:
            raise
        except RecursionError:
            raise DecodeError("too_deep", "payload nested too deeply to parse") from None
        except Exception as e:
            # A defect of ours must quarantine one message, not stop the gateway's ingest loop.
            raise DecodeError("internal", f"decoder defect on this payload: {type(e).__name__}: {e}") from e

    def _decode(self, device: str, channel: str | None, payload: bytes, received_ns: int) -> Event:
        limits = self._limits
        if type(payload) is not bytes:  # what paho gives; anything else is checked and copied
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise DecodeError("not_json", f"payload is {type(payload).__name__}, not bytes")
            payload = bytes(payload)
        if len(payload) > limits.max_bytes:
            raise DecodeError("too_large", f"payload of {len(payload)} bytes (at most {limits.max_bytes})")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError("bad_text", f"payload is not UTF-8: {e}") from None
        try:
            obj = _JSON.decode(text)
        except RecursionError:
            raise DecodeError("too_deep", "payload nested too deeply to parse") from None
        except ValueError as e:
            raise DecodeError("not_json", f"payload is not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise DecodeError("not_json", "payload is not a JSON object")
        # Nesting needs an opening bracket a level: with no more brackets than the limit (brackets
        # inside strings counted too, so never too few) the walk cannot find too deep a value.
        if text.count("{") + text.count("[") > limits.max_depth and _depth_exceeds(obj, limits.max_depth):
            raise DecodeError("too_deep", f"payload nested deeper than {limits.max_depth}")

        if self._channel_get is not None:
            named = self._channel_get(obj)
            if not isinstance(named, str):
                raise DecodeError("unknown_channel", f"{self.profile.channel_field}={named!r:.40} names no channel")
            channel = named
        if channel is None:
            raise DecodeError("unknown_channel", f"profile {self.profile.name} takes the channel from the topic")
        ch = self._channels.get(channel)
        if ch is None:
            raise DecodeError(
                "unknown_channel", f"channel {channel[:40]!r} is not in profile {self.profile.name}", channel[:64]
            )

        if ch.type_get is not None:
            vendor_type = ch.type_get(obj)
            # Vendors number their types as often as they name them: 3 and "3" both match `"3":`.
            if isinstance(vendor_type, int) and not isinstance(vendor_type, bool):
                vendor_type = str(vendor_type)
            name = ch.types.get(vendor_type) if isinstance(vendor_type, str) else None
            if name is None:
                raise DecodeError("unknown_type", f"event type {vendor_type!r:.40} is not one of {sorted(ch.types)}")
        else:
            name = ch.event or ""

        fields: dict[str, Any] = {}
        for key, get, convert in ch.fields:
            value = get(obj)
            # null, and a vendor's "no value" (ABSENT), leave the field out: never a null field.
            if value is not None and (value := convert(value)) is not ABSENT:
                fields[key] = value
        missing = [f for f in ch.required if f not in fields]
        if missing:
            raise DecodeError("missing_field", f"{name}: missing {', '.join(missing)} (required; absent or no value)")

        ts_ns = self._time(ch, obj, received_ns)
        seq = None
        if self._seq_get is not None:
            seq = self._seq_get(obj)
            if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**32):
                raise DecodeError("bad_seq", f"seq {seq!r:.40} is not a uint32")
        if not fields and seq is None:
            # Nothing to store: an empty point is refused by InfluxDB, so refuse it here, counted.
            raise DecodeError("missing_field", f"{name}: no canonical field in the payload")
        return Event(device=device, name=name, ts_ns=ts_ns, fields=fields, seq=seq)

    @staticmethod
    def _time(ch: _CompiledChannel, obj: dict[str, Any], received_ns: int) -> int:
        if ch.arrival:
            return received_ns
        raw = ch.ts_get(obj)
        if raw is not None:
            return ch.ts_parse(raw)
        # Only the broker-sent will (or the clean-shutdown note like it) may lack a time: the
        # device is gone, so the receive time is the best there is. Anything else is refused, as
        # a made-up time would store the event at the wrong moment.
        if ch.will is not None and all(get(obj) == want for get, want in ch.will):
            return received_ns
        raise DecodeError("bad_time", f"missing {ch.ts_name}")
