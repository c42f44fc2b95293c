"""Line protocol for polled readings, encoded once per distinct sample of a device.

A thousand counters polled every second mostly answer what they answered a second ago; their
lines then differ only in the timestamp. The rest of a reading's line (measurement, tags, fields)
is kept for its exact values (and their types: 5 and 5.0 and True are different fields), so an
unchanged sample costs a lookup and a string join, not an encoding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from drivers.canonical import READING, Event
from gateway.store.points import to_line

CACHED = 16384  # distinct (device, sample) heads kept: a few per device of a large hall


@lru_cache(maxsize=CACHED)
def _head(site: str, kind: str, device: str, items: tuple[tuple[str, Any], ...], _types: tuple[type, ...]) -> str:
    line = to_line(Event(device, READING, 0, dict(items)), site, kind)
    return line[:-1]  # everything but the timestamp (0)


def reading_line(event: Event, site: str, kind: str) -> str:
    """What `to_line(event, site, kind)` gives (raises what it raises), cached for readings."""
    ts = event.ts_ns
    if event.name != READING or event.seq is not None or type(ts) is not int or not 0 <= ts < 2**63:
        return to_line(event, site, kind)
    items = tuple(event.fields.items())
    try:
        head = _head(site, kind, event.device, items, tuple(map(type, event.fields.values())))
    except TypeError:  # an unhashable value (a list of bits): encoded every time
        return to_line(event, site, kind)
    return head + str(ts)
