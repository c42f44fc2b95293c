"""Typed canonical values: one declared type per field, enforced on every decode.

InfluxDB fixes a field's type per shard by the first point written, so one device sending a
score as "5" would make every other device's integer scores unwritable. Every field a profile
produces therefore declares its type, and a value of another type is a DecodeError, not a point.
This module is pure (no pydantic models): the model validates the specs, this compiles them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from drivers.profiles.errors import DecodeError

FieldType = Literal["int", "float", "bool", "string", "strings", "bits", "json"]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]

# How each declared type is stored (what points.format_field writes for it). bits is a
# bitmap (bit n = element n); strings is one comma-joined string; json is compact JSON text.
INFLUX_TYPES: dict[str, str] = {
    "int": "integer",
    "float": "float",
    "bool": "boolean",
    "string": "string",
    "strings": "string",
    "bits": "integer",
    "json": "string",
}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Lone surrogates pass json.loads but cannot be encoded as UTF-8; NUL ends strings in C parsers.
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")

Convert = Callable[[Any], Any]


class _Absent:
    """What a converter returns for a vendor's "no value" (a pad's 0 for not rated): the field is
    left out of the event, as if the payload had not carried it. One instance, compared with `is`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def check_text(text: str, where: str, max_len: int) -> str:
    if len(text) > max_len:
        raise DecodeError("bad_text", f"{where}: text of {len(text)} characters (at most {max_len})")
    if _BAD_TEXT.search(text):
        raise DecodeError("bad_text", f"{where}: text with a lone surrogate or NUL")
    return text


def value_key(value: Any) -> tuple[str, Any] | None:
    """A map key that keeps JSON types apart (true is not 1, "5" is not 5) but 5 == 5.0."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return ("n", value if isinstance(value, int) or not value.is_integer() else int(value))
    if isinstance(value, str):
        return ("s", value)
    return None


def _brief(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits cannot even be shown
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= 40 else text[:37] + "..."


def _typed(ftype: str, where: str, max_string: int, max_items: int) -> Convert:
    def to_int(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DecodeError("bad_type", f"{where}: {_brief(v)} is not an integer")
        if isinstance(v, float):
            if not (math.isfinite(v) and v.is_integer()):
                raise DecodeError("bad_type", f"{where}: {_brief(v)} is not an integer")
            v = int(v)
        if not INT64_MIN <= v <= INT64_MAX:
            raise DecodeError("out_of_range", f"{where}: {_brief(v)} does not fit in 64 bits")
        return v

    def to_float(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DecodeError("bad_type", f"{where}: {_brief(v)} is not a number")
        try:
            f = float(v)
        except OverflowError:
            raise DecodeError("out_of_range", f"{where}: {_brief(v)} is too large for a float") from None
        if not math.isfinite(f):
            raise DecodeError("out_of_range", f"{where}: {_brief(v)} is not finite")
        return f

    def to_bool(v: Any) -> bool:
        if not isinstance(v, bool):
            raise DecodeError("bad_type", f"{where}: {_brief(v)} is not true/false")
        return v

    def to_string(v: Any) -> str:
        if not isinstance(v, str):
            raise DecodeError("bad_type", f"{where}: {_brief(v)} is not a string")
        return check_text(v, where, max_string)

    def to_list(item: Convert, what: str, min_items: int) -> Convert:
        def convert(v: Any) -> list[Any]:
            if not isinstance(v, list):
                raise DecodeError("bad_type", f"{where}: {_brief(v)} is not a list of {what}")
            if len(v) < min_items:
                raise DecodeError("out_of_range", f"{where}: an empty list of {what}")
            if len(v) > max_items:
                raise DecodeError("out_of_range", f"{where}: {len(v)} items (at most {max_items})")
            return [item(x) for x in v]

        return convert

    def to_json(v: Any) -> str:
        # Structured data (a lockbox snapshot) is kept as compact JSON text: always a string.
        text = json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return check_text(text, where, max_string)

    table: dict[str, Convert] = {
        "int": to_int,
        "float": to_float,
        "bool": to_bool,
        "string": to_string,
        # An empty bitmap would be written as "" (text) and conflict with the integer bitmaps.
        "strings": to_list(to_string, "strings", 0),
        "bits": to_list(to_bool, "true/false", 1),
        "json": to_json,
    }
    return table[ftype]


def compile_value(
    where: str,
    ftype: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    enum: Sequence[Any] | None = None,
    vmap: Mapping[Any, Any] | None = None,
    ranges: Sequence[tuple[float | None, float | None, Any]] | None = None,
    max_length: int | None = None,
    max_string: int = 1024,
    max_items: int = 256,
    absent: Sequence[Any] = (),
) -> Convert:
    """A converter: vendor value -> canonical value of type `ftype`, ABSENT, or DecodeError.

    Order: the vendor's "no value" values (`absent`, and map entries to None) give ABSENT; then
    translate (map, then ranges: min inclusive, max exclusive), convert to the declared type,
    then check min/max and the enumeration.
    """
    # A field's own max_length is the integrator's word for that field (a snapshot is long).
    typed = _typed(ftype, where, max_length or max_string, max_items)
    # A map of nulls only (`{0: null}`) declares "no value" markers and translates nothing.
    table = {value_key(k): v for k, v in (vmap or {}).items() if v is not None} or None
    nothing = {value_key(v) for v in absent} | {value_key(k) for k, v in (vmap or {}).items() if v is None}
    nothing.discard(None)  # a list, an object or NaN is never a "no value" marker
    bands = list(ranges or ())
    allowed = None if enum is None else {value_key(v) for v in enum}

    def translate(v: Any) -> Any:
        if table is not None:
            k = value_key(v)
            if k in table:
                return table[k]
            if not bands:
                raise DecodeError("unknown_value", f"{where}: {_brief(v)} is not one of the mapped values")
        if bands:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise DecodeError("bad_type", f"{where}: {_brief(v)} is not a number to place in a range")
            for lo, hi, out in bands:
                if (lo is None or v >= lo) and (hi is None or v < hi):
                    return out
            raise DecodeError("unknown_value", f"{where}: {_brief(v)} is in none of the ranges")
        return v

    def convert(v: Any) -> Any:
        out = typed(translate(v) if table is not None or bands else v)
        if isinstance(out, int | float) and (
            (minimum is not None and out < minimum) or (maximum is not None and out > maximum)
        ):
            raise DecodeError("out_of_range", f"{where}: {out!r} is outside {minimum}..{maximum}")
        items = out if isinstance(out, list) else [out]  # a list's enum applies to each element
        if allowed is not None and any(value_key(x) not in allowed for x in items):
            raise DecodeError("unknown_value", f"{where}: {_brief(out)} is not one of {sorted(map(str, enum or ()))}")
        return out

    # Nothing to translate or check: most fields, once per message each.
    plain = table is None and not bands and minimum is None and maximum is None and allowed is None
    checked = typed if plain else convert
    if not nothing:
        return checked

    def or_absent(v: Any) -> Any:
        return ABSENT if value_key(v) in nothing else checked(v)

    return or_absent
