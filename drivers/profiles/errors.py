"""Typed errors of the profile layer: a bad input is a value the gateway counts, never a crash.

`DecodeError.reason` is a short, stable code (one of REASONS) so the hub can count quarantined
messages by cause without parsing messages; `str(error)` is the human text with the details.
"""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "not_json",  # not UTF-8 JSON, not an object, or a NaN/Infinity literal
    "too_large",  # payload over the profile's max_bytes
    "too_deep",  # nesting over max_depth (or deep enough to exhaust the parser's recursion)
    "bad_text",  # a string with a lone surrogate, NUL, or over max_string characters
    "bad_type",  # a field of the wrong JSON type (e.g. a score sent as a string)
    "out_of_range",  # a number outside the field's min/max or outside int64
    "unknown_value",  # a value not in the field's map, ranges or enum
    "missing_field",  # a required field (or every field) is absent
    "unknown_type",  # the payload's event type is not in the profile
    "unknown_channel",  # the topic level or payload field names no channel of the profile
    "bad_time",  # the time field is absent or cannot be read
    "bad_seq",  # seq is not a uint32
    "internal",  # a defect of ours: any other exception inside decode (still quarantined)
]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]


class DecodeError(ValueError):
    """A payload that does not fit the device's profile: counted and logged, never fatal."""

    def __init__(self, reason: Reason, message: str, channel: str | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.channel = channel  # unknown_channel: the channel the payload named, for counting per channel


class CommandError(ValueError):
    """A command the profile cannot encode: unknown op, or a parameter missing or out of range."""
