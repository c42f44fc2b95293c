"""Device times -> epoch nanoseconds, exactly (integer arithmetic, no float rounding). Pure.

Formats: `iso8601`, `epoch_s`, `epoch_ms`, `epoch_us`, `epoch_ns`, or a strptime pattern (any
text with a `%`). A time without an offset is local time in the zone given (the profile's
`timezone`, else the hall's), read with its DST rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from drivers.profiles.errors import DecodeError

EPOCH_SCALES = {"epoch_s": 10**9, "epoch_ms": 10**6, "epoch_us": 10**3, "epoch_ns": 1}
NAMED_FORMATS = ("iso8601", *EPOCH_SCALES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = 2**63 - 1  # InfluxDB's timestamps are int64 nanoseconds
_DIGITS = re.compile(r"\d{1,20}")
_MAX_TEXT = 64

TimeParser = Callable[[Any], int]


def is_time_format(fmt: str) -> bool:
    return fmt in NAMED_FORMATS or "%" in fmt


def _ns(dt: datetime, text: str) -> int:
    ns = (dt - _EPOCH) // timedelta(microseconds=1) * 1000
    if not 0 <= ns <= _MAX_NS:
        raise DecodeError("bad_time", f"ts {text!r} is before 1970 or after 2262")
    return ns


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DecodeError("bad_time", f"ts {value!r:.40} is not {what} text")
    if len(value) > _MAX_TEXT:
        raise DecodeError("bad_time", f"ts of {len(value)} characters is not {what}")
    return value


def time_parser(fmt: str, tz: tzinfo, require_offset: bool = False) -> TimeParser:
    """A parser for one format; `tz` places naive local times, unless `require_offset`."""
    if fmt in EPOCH_SCALES:
        scale = EPOCH_SCALES[fmt]

        def epoch(value: Any) -> int:
            # Some firmware sends the number as text: digits only, so nothing else sneaks through.
            if isinstance(value, str) and _DIGITS.fullmatch(value):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DecodeError("bad_time", f"ts {value!r:.40} is not a number ({fmt})")
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise DecodeError("bad_time", f"ts {value!r} is not finite")
                try:
                    ns = int(Decimal(repr(value)) * scale)
                except (InvalidOperation, ValueError):
                    raise DecodeError("bad_time", f"ts {value!r} is not a time ({fmt})") from None
            else:
                ns = value * scale
            if not 0 <= ns <= _MAX_NS:
                raise DecodeError("bad_time", f"ts {value!r:.40} is before 1970 or after 2262 ({fmt})")
            return ns

        return epoch

    def localise(dt: datetime, text: str) -> datetime:
        if dt.tzinfo is not None:
            return dt
        if require_offset:
            raise DecodeError("bad_time", f"ts {text!r} has no UTC offset")
        return dt.replace(tzinfo=tz)

    if fmt == "iso8601":

        def iso(value: Any) -> int:
            text = _text(value, "ISO 8601")
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                raise DecodeError("bad_time", f"ts {text!r} is not ISO 8601") from None
            return _ns(localise(dt, text), text)

        return iso

    def pattern(value: Any) -> int:
        text = _text(value, f"{fmt!r}")
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            raise DecodeError("bad_time", f"ts {text!r} does not match {fmt!r}") from None
        return _ns(localise(dt, text), text)

    return pattern


def parse_iso8601_ns(text: Any) -> int:
    """An ISO 8601 time with its UTC offset, in epoch ns (kept for callers of the old API)."""
    return time_parser("iso8601", UTC, require_offset=True)(text)
