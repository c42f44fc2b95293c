"""Line protocol for polled readings, each field's text encoded once per distinct value.

A thousand counters polled every second mostly answer what they answered a second ago, bar a
field or two (the uptime). A reading's series (measurement and tags) is kept per device, and
each field's text per exact value and type (5, 5.0 and True are different fields), so a sample
costs a few lookups and a join, not a full encoding. Anything unusual (a list value, text that is
not ASCII, a sequence number, no storable field) goes through `to_line` itself, which raises
what it raises.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from gateway.domain.canonical import READING, Event
from gateway.store.points import escape_key, format_field, to_line

FIELDS_CACHED = 65536  # distinct (field, value) texts kept: a few per counter of a large hall


@lru_cache(maxsize=4096)
def _series(site: str, kind: str, device: str) -> str:
    probe = to_line(Event(device, READING, 0, {"x": 0}), site, kind)
    return probe[: -len(" x=0i 0")]


@lru_cache(maxsize=FIELDS_CACHED)
def _field(key: str, _type: type, value: Any) -> str | None:
    text = format_field(value)
    return None if text is None else f"{escape_key(key)}={text}"


def reading_line(event: Event, site: str, kind: str) -> str:
    """What `to_line(event, site, kind)` gives, for readings from cached parts."""
    ts = event.ts_ns
    if event.name != READING or event.seq is not None or type(ts) is not int or not 0 <= ts < 2**63:
        return to_line(event, site, kind)
    try:
        parts = [p for k, v in event.fields.items() if (p := _field(k, type(v), v)) is not None]
    except TypeError:  # an unhashable value (a list of bits)
        return to_line(event, site, kind)
    line = f"{_series(site, kind, event.device)} {','.join(parts)} {ts}"
    if not parts or not line.isascii():
        return to_line(event, site, kind)  # raises, or checks the text as it always does
    return line
