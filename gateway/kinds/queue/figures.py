"""The summary's figures from the rows of queue_transactions, a day at a time.

A month's summary of a large hall reads 90,000 transactions; read and grouped at every request
that took seconds on the development machine (bench/README.md, "The queue"). A day's figures per
group are kept instead (`DayFigures`): the counts and the day's waiting and handling times sorted,
which combine exactly into any run of days (counts add up, sorted runs merge, and the median and
p90 are then read at their ranks). The store keeps them in memory and in the state database
(`pack`: 8 bytes a time) until one of the day's visits changes. The days at either end of a
period, which may be cut by its start or end, are worked out from their rows each time.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain.queue import RESULTS, spread_of

# the columns read, and where each group's key is among them
COLUMNS = "hour, line, service_window, staff, item, issued, appointment, unissued, outcome, waiting_ns, handling_ns"
KEY_AT = {"hour": 0, "line": 1, "window": 2, "staff": 3, "item": 4, "outcome": 8}


@dataclass
class Part:
    """One group's figures over some transactions."""

    tickets: int = 0
    issued: int = 0
    appointments: int = 0
    served: int = 0
    no_shows: int = 0
    transfers: int = 0
    unissued: int = 0
    waiting: Sequence[int] = ()  # ns, sorted (kept as arrays of int64: 8 bytes a value)
    handling: Sequence[int] = ()
    waiting_total: int = 0
    handling_total: int = 0


DayFigures = dict[Any, Part]  # group key (None: the whole day) -> its figures


def parts(rows: Iterable[Sequence[Any]], by: str | None) -> DayFigures:
    """Rows (COLUMNS) grouped by `by` (None: one group, None)."""
    at = KEY_AT[by] if by is not None else None
    out: DayFigures = {}
    values: dict[Any, tuple[list[int], list[int]]] = {}
    for row in rows:
        key = row[at] if at is not None else None
        p = out.get(key)
        if p is None:
            p = out[key] = Part()
            values[key] = ([], [])
        _, _, _, _, _, issued, appointment, unissued, outcome, waiting, handling = row
        p.tickets += 1
        p.issued += issued
        p.appointments += appointment
        p.unissued += unissued
        p.served += outcome in RESULTS
        p.no_shows += outcome == "no_show"
        p.transfers += outcome == "transferred"
        if waiting is not None:
            values[key][0].append(waiting)
        if handling is not None:
            values[key][1].append(handling)
    for key, (w, h) in values.items():
        p = out[key]
        p.waiting, p.handling, p.waiting_total, p.handling_total = (
            array("q", sorted(w)),
            array("q", sorted(h)),
            sum(w),
            sum(h),
        )
    return out


def pack(figures: DayFigures) -> bytes:
    """A day's figures as kept in the state database (queue_day_figures): a JSON head (each group's
    key, counts and lengths), then the sorted times as little-endian int64."""
    head, runs = [], []
    for key, p in figures.items():
        counts = [p.tickets, p.issued, p.appointments, p.served, p.no_shows, p.transfers, p.unissued]
        head.append([key, counts, p.waiting_total, p.handling_total, len(p.waiting), len(p.handling)])
        runs += [array("q", p.waiting), array("q", p.handling)]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode()
    if sys.byteorder == "big":
        for run in runs:
            run.byteswap()
    return len(text).to_bytes(4, "little") + text + b"".join(run.tobytes() for run in runs)


def unpack(blob: bytes) -> DayFigures:
    n = int.from_bytes(blob[:4], "little")
    at = 4 + n
    out: DayFigures = {}
    for key, counts, waiting_total, handling_total, nw, nh in json.loads(blob[4:at]):
        runs = []
        for length in (nw, nh):
            run = array("q")
            run.frombytes(blob[at : at + 8 * length])
            if sys.byteorder == "big":
                run.byteswap()
            runs.append(run)
            at += 8 * length
        tickets, issued, appointments, served, no_shows, transfers, unissued = counts
        out[key] = Part(tickets, issued, appointments, served, no_shows, transfers, unissued, *runs,
                        waiting_total=waiting_total, handling_total=handling_total)  # fmt: skip
    return out


def combine(days: Iterable[DayFigures]) -> dict[Any, dict[str, Any]]:
    """The figures of several days' (or edges') groups together, as `Figures.out` gives them."""
    merged: dict[Any, list[Part]] = {}
    for day in days:
        for key, p in day.items():
            merged.setdefault(key, []).append(p)
    out = {}
    for key, ps in merged.items():
        issued = sum(p.issued for p in ps)
        out[key] = {
            "tickets": sum(p.tickets for p in ps),
            "issued": issued,
            "served": sum(p.served for p in ps),
            "no_shows": sum(p.no_shows for p in ps),
            "transfers": sum(p.transfers for p in ps),
            "unissued": sum(p.unissued for p in ps),
            "appointments": sum(p.appointments for p in ps),
            "appointment_share": round(sum(p.appointments for p in ps) / issued, 4) if issued else None,
            "waiting": _spread([p.waiting for p in ps], sum(p.waiting_total for p in ps)),
            "handling": _spread([p.handling for p in ps], sum(p.handling_total for p in ps)),
        }
    return out


def _spread(runs: list[Sequence[int]], total: int) -> dict[str, float | None]:
    values = runs[0]
    if len(runs) > 1:
        joined = array("q")
        for run in runs:
            joined += run  # type: ignore[arg-type]  # each an array
        values = sorted(joined)  # sorted runs one after the other: the sort merges them
    return spread_of(len(values), total, values.__getitem__)
