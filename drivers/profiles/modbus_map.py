"""Compile a Modbus profile once into a read plan (merged requests) and decoders. No I/O.

Like Telegraf's request optimiser: neighbouring signals of one table become one request, up to
what the protocol allows in one PDU, never reading across a gap wider than the profile's
`max_gap` (reading outside a device's map is an error on most devices).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.profiles.model import ModbusProfile, Signal

# Modbus limits per request: registers for function codes 3/4, bits for 1/2.
MAX_REGISTERS = 125
MAX_BITS = 2000

# The four 32-bit layouts, as the order in which the bytes A (most significant) .. D arrive.
_LAYOUTS = {"ABCD": (0, 1, 2, 3), "BADC": (1, 0, 3, 2), "CDAB": (2, 3, 0, 1), "DCBA": (3, 2, 1, 0)}

Decoder = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True, slots=True)
class Request:
    table: str
    address: int
    count: int
    decoders: tuple[tuple[str, int, Decoder], ...]  # (signal name, offset in this response, decoder)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    requests: tuple[Request, ...]

    def decode(self, responses: Sequence[Sequence[Any]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for request, words in zip(self.requests, responses, strict=True):
            for name, offset, decode in request.decoders:
                values[name] = decode(words[offset:])
        return values


def _to_bytes(words: Sequence[int], n: int) -> bytes:
    return b"".join(w.to_bytes(2, "big") for w in words[:n])


def _decoder(sig: Signal, byte_order: str) -> Decoder:
    order = _LAYOUTS[byte_order]

    def ordered(words: Sequence[int]) -> bytes:
        raw = _to_bytes(words, 2)
        return bytes(raw[order.index(i)] for i in range(4))

    raw: Decoder
    match sig.type:
        case "bool":
            raw = lambda bits: bool(bits[0])  # noqa: E731
        case "bits":
            n = sig.count
            raw = lambda bits: [bool(b) for b in bits[:n]]  # noqa: E731
        case "uint16":
            raw = lambda w: w[0]  # noqa: E731
        case "int16":
            raw = lambda w: w[0] - 0x10000 if w[0] & 0x8000 else w[0]  # noqa: E731
        case "uint32":
            raw = lambda w: struct.unpack(">I", ordered(w))[0]  # noqa: E731
        case "int32":
            raw = lambda w: struct.unpack(">i", ordered(w))[0]  # noqa: E731
        case "float32":
            raw = lambda w: struct.unpack(">f", ordered(w))[0]  # noqa: E731
    if sig.map is not None:
        table = sig.map
        return lambda w: table.get(raw(w), f"unknown({raw(w)})")
    if sig.flags is not None:
        flags = sorted(sig.flags.items())
        return lambda w: [name for bit, name in flags if raw(w) >> bit & 1]
    if sig.scale is not None:
        scale = sig.scale
        return lambda w: round(raw(w) * scale, 6)
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
    return ReadPlan(tuple(requests))


def _request(table: str, group: list[tuple[str, Signal]], byte_order: str) -> Request:
    start = group[0][1].address
    end = max(s.address + s.width for _, s in group)
    decoders = tuple((name, sig.address - start, _decoder(sig, byte_order)) for name, sig in group)
    return Request(table=table, address=start, count=end - start, decoders=decoders)
