"""Decode a vendor's MQTT JSON payloads into canonical events, as its profile says. No I/O."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.canonical import Event
from drivers.profiles.model import Channel, FieldMap, MqttProfile


class DecodeError(ValueError):
    """A payload that does not fit the device's profile: counted and logged, never fatal."""


def _getter(path: str) -> Callable[[dict[str, Any]], Any]:
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


def _field(spec: str | FieldMap) -> Callable[[dict[str, Any]], Any]:
    if isinstance(spec, str):
        return _getter(spec)
    get, table = _getter(spec.source), spec.map
    if table is None:
        return get

    def mapped(obj: dict[str, Any]) -> Any:
        value = get(obj)
        if value is None:
            return None
        try:
            return table[str(value)]
        except KeyError:
            raise DecodeError(f"{spec.source}={value!r} is not one of {sorted(table)}") from None

    return mapped


def parse_iso8601_ns(text: Any) -> int:
    if not isinstance(text, str):
        raise DecodeError(f"ts {text!r} is not an ISO 8601 text")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise DecodeError(f"ts {text!r} is not ISO 8601") from None
    if dt.tzinfo is None:
        raise DecodeError(f"ts {text!r} has no UTC offset")
    # A float holds today's epoch to well under a microsecond, and rounding restores it exactly.
    return round(dt.timestamp() * 1e6) * 1000


def _ts_parser(fmt: str) -> Callable[[Any], int]:
    if fmt == "iso8601":
        return parse_iso8601_ns

    scale = 1_000_000_000 if fmt == "epoch_s" else 1_000_000

    def epoch(value: Any) -> int:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DecodeError(f"ts {value!r} is not a number ({fmt})")
        return int(value * scale)

    return epoch


@dataclass(frozen=True, slots=True)
class _CompiledChannel:
    event: str | None
    type_get: Callable[[dict[str, Any]], Any] | None
    types: dict[str, str]
    fields: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]
    required: tuple[str, ...]


def _compile_channel(ch: Channel) -> _CompiledChannel:
    return _CompiledChannel(
        event=ch.event,
        type_get=_getter(ch.type_field) if ch.type_field else None,
        types=dict(ch.types),
        fields=tuple((name, _field(spec)) for name, spec in ch.fields.items()),
        required=tuple(ch.required),
    )


class MqttDecoder:
    """A profile compiled once into per-channel getters, so a message does no lookups by name."""

    def __init__(self, profile: MqttProfile) -> None:
        self.profile = profile
        self._channels = {name: _compile_channel(ch) for name, ch in profile.channels.items()}
        self._ts_get = _getter(profile.timestamp.field)
        self._ts_parse = _ts_parser(profile.timestamp.format)
        self._seq_get = _getter(profile.seq_field) if profile.seq_field else None

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    def decode(self, device: str, channel: str, payload: bytes, received_ns: int) -> Event:
        ch = self._channels.get(channel)
        if ch is None:
            raise DecodeError(f"channel {channel!r} is not in profile {self.profile.name}")
        try:
            obj = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as e:
            raise DecodeError(f"payload is not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise DecodeError("payload is not a JSON object")
        if ch.type_get is not None:
            vendor_type = ch.type_get(obj)
            name = ch.types.get(str(vendor_type))
            if name is None:
                raise DecodeError(f"event type {vendor_type!r} is not one of {sorted(ch.types)}")
        else:
            name = ch.event
        fields = {}
        for key, get in ch.fields:
            value = get(obj)
            if value is not None:
                fields[key] = value
        missing = [f for f in ch.required if f not in fields]
        if missing:
            raise DecodeError(f"{name}: missing {', '.join(missing)}")
        raw_ts = self._ts_get(obj)
        # A will message carries no time: the broker sends it when the device is gone.
        ts_ns = received_ns if raw_ts is None else self._ts_parse(raw_ts)
        seq = None
        if self._seq_get is not None:
            seq = self._seq_get(obj)
            if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**32):
                raise DecodeError(f"seq {seq!r} is not a uint32")
        return Event(device=device, name=name or "", ts_ns=ts_ns, fields=fields, seq=seq)
