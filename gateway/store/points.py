"""Canonical events as InfluxDB line protocol (nanosecond precision).

One line per event. The timestamp is the device's own time, never the time of writing, so a
redelivered event overwrites itself in InfluxDB (same measurement, tag set and timestamp):
at-least-once delivery becomes exactly-once storage (architecture principle 6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from gateway.domain.canonical import HEARTBEAT, READING, STATUS, Event


class PointError(ValueError):
    """An event that cannot be written as a point (no fields, unsupported type, unencodable text).

    `reason` is a short code like DecodeError's, so the hub counts both kinds of quarantine alike.
    """

    def __init__(self, message: str, reason: str = "unstorable") -> None:
        super().__init__(message)
        self.reason = reason


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Control characters cannot appear raw in a line (a newline ends it), so they are written as
# their two-character escapes, as Telegraf's serializer does.
_CONTROL = {ord("\t"): "\\t", ord("\n"): "\\n", ord("\f"): "\\f", ord("\r"): "\\r"}
_NAME = {**_CONTROL, ord(","): "\\,", ord(" "): "\\ "}
_KEY = {**_NAME, ord("="): "\\="}
# In a string field InfluxDB unescapes only \" and \\; a raw newline would still end the line.
_STRING = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r"}
_STRING_SPECIAL = frozenset('\\"\n\r')


def escape_measurement(name: str) -> str:
    return name.translate(_NAME)


@lru_cache(maxsize=8192)
def escape_key(key: str) -> str:
    """Tag keys, tag values and field keys (a small, recurring set: cached)."""
    out = key.translate(_KEY)
    # A trailing backslash would escape the separator that follows it and corrupt the line.
    if out.endswith("\\"):
        out += "\\"
    return out


def format_field(value: Any) -> str | None:
    """One field value in line protocol, or None when it has no representation (None, NaN, inf)."""
    # Exact types first: this runs for every field of every point.
    t = type(value)
    if t is int:
        return _integer(value)
    if t is str:
        return f'"{value.translate(_STRING)}"' if not _STRING_SPECIAL.isdisjoint(value) else f'"{value}"'
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _integer(int(value))
    if isinstance(value, float):
        # InfluxDB has no NaN or infinity; a broken sensor reading is skipped like a missing one.
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return f'"{value.translate(_STRING)}"'
    if isinstance(value, list | tuple):
        if not value:
            # An empty list is written as an empty string, so "no reasons" or "no flags" replaces
            # the last ones in a query. Profiles never produce an empty bitmap (`bits` lists are
            # non-empty), so a field keeps one InfluxDB type.
            return '""'
        if all(isinstance(v, bool) for v in value):
            # Bit n is element n: a bank of door sensors becomes one integer.
            return _integer(sum(1 << n for n, v in enumerate(value) if v))
        if all(isinstance(v, str) for v in value):
            return format_field(",".join(value))
        raise PointError(f"unsupported list field (only str or bool elements): {_brief(value)}", "bad_type")
    if value is None:
        return None
    raise PointError(f"unsupported field type {type(value).__name__}: {_brief(value)}", "bad_type")


def _brief(value: Any) -> str:
    try:
        return f"{value!r:.80}"
    except ValueError:  # holds an int of more than 4,300 digits: not even repr works
        return f"<{type(value).__name__}>"


def _integer(value: int) -> str:
    if not INT64_MIN <= value <= INT64_MAX:
        raise PointError(f"integer field out of int64 range ({value.bit_length()} bits)", "out_of_range")
    return f"{value}i"


def point_ts(ts_ns: int, seq: int | None) -> int:
    """The point's timestamp: the device time, with the sequence number in the sub-millisecond part.

    Two events in the same millisecond then never overwrite each other, and a redelivered event
    (same seq, same device time) lands on exactly the same timestamp and overwrites itself.
    """
    if seq is None:
        return ts_ns
    return ts_ns - ts_ns % 1_000_000 + seq % 1_000_000


def measurement_for(name: str, kind: str) -> tuple[str, str | None]:
    """(measurement, value of the `type` tag or None)."""
    if name == STATUS:
        return "device_status", None
    if name == HEARTBEAT:
        return "heartbeat", None
    if name == READING:
        return kind, None
    return f"{kind}_event", name


@lru_cache(maxsize=65536)
def _series(measurement: str, tags: tuple[tuple[str, str | None], ...]) -> str:
    """Measurement and tag set: the same for every point of a device and event name, so cached."""
    # InfluxDB rejects empty tag values; a missing tag is simply absent. Sorted tag keys are
    # what InfluxDB stores anyway and make lines byte-identical across redeliveries.
    tag_part = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags) if v)
    return escape_measurement(measurement) + tag_part


def make_line(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, Any], ts_ns: int) -> str:
    return _line(measurement, _series(measurement, tuple(tags.items())), _fields(fields), ts_ns)


def _fields(fields: Mapping[str, Any]) -> list[str]:
    parts = []
    for key, value in fields.items():
        text = format_field(value)
        if text is not None:
            parts.append(f"{escape_key(key)}={text}")
    return parts


def _line(measurement: str, series: str, field_parts: list[str], ts_ns: int) -> str:
    if not field_parts:
        raise PointError(f"{measurement}: no fields to write (all empty)", "missing_field")
    if type(ts_ns) is not int or not INT64_MIN <= ts_ns <= INT64_MAX:
        raise PointError(f"{measurement}: timestamp {_brief(ts_ns)} is not an int64 of nanoseconds", "bad_time")
    line = f"{series} {','.join(field_parts)} {ts_ns}"
    if not line.isascii():
        # The outbox stores UTF-8: a lone surrogate (valid in a Python str, and json.loads lets
        # one through) would fail there, far from its cause. Refuse it here, as a PointError.
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise PointError(f"{measurement}: text that is not valid Unicode (a lone surrogate)", "bad_text") from None
    return line


@lru_cache(maxsize=65536)
def _event_series(name: str, kind: str, site: str, device: str) -> tuple[str, str]:
    """(measurement, measurement and tag set) of a device's events of one name: built once."""
    measurement, type_tag = measurement_for(name, kind)
    tags = (("site", site), ("device", device), ("kind", kind), ("type", type_tag))
    return measurement, _series(measurement, tags)


def to_line(event: Event, site: str, kind: str) -> str:
    """The event as one line of line protocol (no trailing newline). Raises PointError."""
    measurement, series = _event_series(event.name, kind, site, event.device)
    seq = event.seq
    if seq is None:
        parts = _fields(event.fields)
    elif "seq" in event.fields:  # the event's own seq wins, in the field's place
        parts = _fields({**event.fields, "seq": seq})
    else:
        parts = _fields(event.fields)
        parts.append(f"seq={format_field(seq)}")
    return _line(measurement, series, parts, point_ts(event.ts_ns, seq))
