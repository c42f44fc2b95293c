"""The lines as they stand now: the queue server's retained snapshot (waiting per line, open
windows) beside what the day's events say, and where the two disagree. Pure.

The snapshot is the server's own count; the events are what the gateway saw. They differ when
events were lost or not yet uploaded (a backlog), when the gateway began watching mid-day (the
tickets issued before are in the snapshot only), or when the snapshot is older than the last events.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median
from typing import Any

from gateway.domain.queue import Visit


@dataclass(frozen=True)
class SnapshotLine:
    line: str
    name: str
    waiting: int
    open_windows: tuple[str, ...]


def parse_lines(text: Any) -> list[SnapshotLine] | None:
    """The snapshot's lines (its `lines` field, kept as JSON text); None when it is not one."""
    try:
        raw = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("line"), str):
            continue
        waiting = item.get("waiting")
        windows = item.get("open_windows")
        out.append(
            SnapshotLine(
                line=item["line"],
                name=str(item.get("name") or ""),
                waiting=waiting if isinstance(waiting, int) and not isinstance(waiting, bool) and waiting >= 0 else 0,
                open_windows=tuple(w for w in windows if isinstance(w, str)) if isinstance(windows, list) else (),
            )
        )
    return out


@dataclass(frozen=True)
class LineNow:
    line: str
    name: str
    waiting: int | None  # the snapshot's count; None without a snapshot of this line
    open_windows: tuple[str, ...]
    events_waiting: int  # tickets waiting by the day's events (issued or transferred in, not yet called)
    longest_wait_s: float | None  # the longest a ticket waiting by the events has waited so far
    expected_wait_s: float | None  # a ticket issued now: rounds of the open windows times the median handling
    snapshot_ts_ns: int | None

    @property
    def agrees(self) -> bool | None:
        return None if self.waiting is None else self.waiting == self.events_waiting


def lines_now(
    snapshot: list[SnapshotLine], snapshot_ts_ns: int | None, visits: Iterable[Visit], now_ns: int
) -> list[LineNow]:
    waiting_since: dict[str, list[int]] = {}
    handling: dict[str, list[int]] = {}
    for v in visits:
        for tx in v.transactions:
            if (h := tx.handling_ns) is not None:
                handling.setdefault(tx.line, []).append(h)
        tx = v.current
        if tx.queued_ns is not None and tx.first_called_ns is None and not tx.outcome:
            waiting_since.setdefault(tx.line, []).append(tx.queued_ns)
    by_line = {s.line: s for s in snapshot}
    out = []
    for line in sorted({*by_line, *waiting_since}):
        s = by_line.get(line)
        since = waiting_since.get(line, [])
        windows = s.open_windows if s else ()
        waiting = s.waiting if s else None
        expected = None
        if waiting is not None and windows and handling.get(line):
            expected = math.ceil(waiting / len(windows)) * median(handling[line]) / 1e9
        out.append(
            LineNow(
                line=line,
                name=s.name if s else "",
                waiting=waiting,
                open_windows=windows,
                events_waiting=len(since),
                longest_wait_s=round(max(0, now_ns - min(since)) / 1e9, 1) if since else None,
                expected_wait_s=None if expected is None else round(expected, 1),
                snapshot_ts_ns=snapshot_ts_ns if s else None,
            )
        )
    return out
