"""Compile a Modbus profile once into a read plan (merged requests) and decoders. No I/O.

Like Telegraf's request optimiser: neighbouring signals of one table become one request, up to
what the protocol allows in one PDU, never reading across a gap wider than the profile's
`max_gap` (reading outside a device's map is an error on most devices).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drivers.profiles.modbus_model import WORDS, ModbusProfile, Signal

# Modbus limits per request: registers for function codes 3/4, bits for 1/2.
MAX_REGISTERS = 125
MAX_BITS = 2000

_STRUCT = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "int64": ">q",
    "uint64": ">Q",
    "float32": ">f",
    "float64": ">d",
}
# Device strings are ASCII; anything unprintable is shown as U+FFFD rather than written raw.
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")

Decoder = Callable[[Sequence[Any]], Any]
_SKIP = object()  # a value with no representation (NaN, infinity): left out of the reading


@dataclass(frozen=True, slots=True)
class Request:
    table: str
    address: int
    count: int
    decoders: tuple[tuple[str, int, Decoder], ...]  # (signal name, offset in this response, decoder)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    requests: tuple[Request, ...]
    # Counter signals -> the value at which they wrap to 0 (uint16: 65,536), for occupancy deltas.
    wraps: dict[str, int] = field(default_factory=dict)
    # Signal -> its canonical type (values.INFLUX_TYPES): one InfluxDB type per field, always.
    field_types: dict[str, str] = field(default_factory=dict)

    def decode(self, responses: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """One response per request -> {signal: value}; NaN and infinite floats are left out."""
        values: dict[str, Any] = {}
        for request, words in zip(self.requests, responses, strict=True):
            if len(words) < request.count:
                raise ValueError(f"{request.table} {request.address}: {len(words)} values, expected {request.count}")
            for name, offset, decode in request.decoders:
                value = decode(words[offset:])
                if value is not _SKIP:
                    values[name] = value
        return values


def _order(words: Sequence[int], byte_order: str) -> bytes:
    """Registers in wire order -> big-endian bytes (most significant first)."""
    ws = list(words)
    if byte_order in ("CDAB", "DCBA"):  # low word first
        ws.reverse()
    raw = b"".join(int(w).to_bytes(2, "big") for w in ws)
    if byte_order in ("BADC", "DCBA"):  # bytes swapped within each word
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


def _raw_decoder(sig: Signal, byte_order: str) -> Decoder:
    n = sig.width
    match sig.type:
        case "bool" if sig.table in ("coil", "discrete"):
            return lambda bits: bool(bits[0])
        case "bool":
            bit = sig.bit or 0
            return lambda w: bool(int(w[0]) >> bit & 1)
        case "bits" if sig.table in ("coil", "discrete"):
            return lambda bits: [bool(b) for b in bits[:n]]
        case "bits":
            count = sig.count or 1
            return lambda w: [bool(int(w[i // 16]) >> (i % 16) & 1) for i in range(count)]
        case "string":
            # Strings keep their character order across registers; only BADC/DCBA swap each pair.
            swap = "BADC" if byte_order in ("BADC", "DCBA") else "ABCD"

            def text(w: Sequence[int]) -> str:
                raw = _order(w[:n], swap).rstrip(b"\x00")
                return _UNPRINTABLE.sub("\ufffd", raw.decode("ascii", errors="replace"))

            return text
    if sig.type in _SHIFTED and byte_order in ("ABCD", "CDAB"):
        return _shifted(sig.type, low_first=byte_order == "CDAB")
    fmt = _STRUCT[sig.type]
    words = WORDS[sig.type]
    if sig.type == "uint64":

        def uint64(w: Sequence[int]) -> Any:
            value = struct.unpack(fmt, _order(w[:words], byte_order))[0]
            # InfluxDB integers are int64: a larger value has no representation, like NaN.
            return value if value < 2**63 else _SKIP

        return uint64
    return lambda w: struct.unpack(fmt, _order(w[:words], byte_order))[0]


_SHIFTED = {"uint16", "int16", "uint32", "int32"}


def _shifted(type_: str, low_first: bool) -> Decoder:
    """16- and 32-bit integers in word order by shifting (registers are 0-65535): what struct
    gives, without building bytes for every counter on every poll."""
    if WORDS[type_] == 1:
        if type_ == "uint16":
            return lambda w: w[0]
        return lambda w: w[0] - 0x10000 if w[0] & 0x8000 else w[0]
    hi, lo = (1, 0) if low_first else (0, 1)
    if type_ == "uint32":
        return lambda w: w[hi] << 16 | w[lo]
    return lambda w: (w[hi] << 16 | w[lo]) - (0x100000000 if w[hi] & 0x8000 else 0)


def _absent(raw: Decoder, nothing: frozenset[int]) -> Decoder:
    """The device's "no reading" values (0xFFFF) are left out, like NaN: compared raw."""

    def or_skip(w: Sequence[int]) -> Any:
        v = raw(w)
        return _SKIP if v in nothing else v

    return or_skip


def _decoder(sig: Signal, byte_order: str) -> Decoder:
    raw = _raw_decoder(sig, sig.byte_order or byte_order)
    nothing = frozenset([*(sig.absent or ()), *(k for k, v in (sig.map or {}).items() if v is None)])
    if nothing:
        raw = _absent(raw, nothing)
    if sig.map is not None:
        table = {k: v for k, v in sig.map.items() if v is not None}

        def enumerated(w: Sequence[int]) -> Any:
            v = raw(w)
            return v if v is _SKIP else table.get(v, f"unknown({v})")

        return enumerated
    if sig.flags is not None:
        flags = sorted(sig.flags.items())

        def flagged(w: Sequence[int]) -> Any:
            v = raw(w)
            return v if v is _SKIP else [name for bit, name in flags if v >> bit & 1]

        return flagged
    if sig.type.startswith("float") or sig.scale is not None or sig.offset is not None:
        scale = 1.0 if sig.scale is None else sig.scale
        offset = 0.0 if sig.offset is None else sig.offset

        def number(w: Sequence[int]) -> Any:
            v = raw(w)
            if v is _SKIP:
                return _SKIP
            value = float(v) * scale + offset
            if not math.isfinite(value):
                return _SKIP  # InfluxDB has no NaN: a broken sensor reading is a missing one
            return round(value, 6) if sig.scale is not None or sig.offset is not None else value

        return number
    return raw


def compile_plan(profile: ModbusProfile) -> ReadPlan:
    by_table: dict[str, list[tuple[str, Signal]]] = {}
    for name, sig in profile.signals.items():
        by_table.setdefault(sig.table, []).append((name, sig))
    requests: list[Request] = []
    for table, signals in by_table.items():
        limit = MAX_BITS if table in ("coil", "discrete") else MAX_REGISTERS
        signals.sort(key=lambda item: item[1].address)
        group: list[tuple[str, Signal]] = []
        for name, sig in signals:
            if group:
                start = group[0][1].address
                end = max(s.address + s.width for _, s in group)
                if sig.address - end > profile.max_gap or sig.address + sig.width - start > limit:
                    requests.append(_request(table, group, profile.byte_order))
                    group = []
            group.append((name, sig))
        requests.append(_request(table, group, profile.byte_order))
    wraps = {name: w for name, sig in profile.signals.items() if (w := sig.wraps_at) is not None}
    types = {name: sig.field_type for name, sig in profile.signals.items()}
    return ReadPlan(tuple(requests), wraps=wraps, field_types=types)


def _request(table: str, group: list[tuple[str, Signal]], byte_order: str) -> Request:
    start = group[0][1].address
    end = max(s.address + s.width for _, s in group)
    decoders = tuple((name, sig.address - start, _decoder(sig, byte_order)) for name, sig in group)
    return Request(table=table, address=start, count=end - start, decoders=decoders)
