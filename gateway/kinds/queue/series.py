"""The series the queue projection derives for InfluxDB, which Grafana's InfluxQL can query.

The canonical events reach InfluxDB as they came (`queue_event`), and the snapshot's lines as one
JSON text, which InfluxQL cannot split per line nor turn into waiting times. So the projection
writes, beside them:

- `queue_line,site=,line= waiting=<int>,open_windows=<int>` per line of each snapshot, at the
  snapshot's time (the server's count of people waiting, and how many windows are open);
- `queue_wait,site=,line=,window= wait_s=<float>` per transaction once its waiting time is known
  (its first call, or its issue arriving after the call), at the time it began waiting (issue or
  transfer): the hour it falls in is the hour the summary's `by=hour` groups it by; `window` is the
  window that called it;
- `queue_handling,site=,line=,window= handling_s=<float>` per case once it is finished (`done`,
  `pending_materials`, `rejected`), at the time its handling started.

A point's time is taken from the visit, never from the moment of writing, and its sub-millisecond
part from the ticket (the device clocks give milliseconds; two tickets of a line and window seldom
begin in the same millisecond, and not also with the same digits): writing it again (a replay, a
restart that derives it again) overwrites the same point. The projection derives points only from
events it applied (a resend derives nothing), and only what changed: a transaction's waiting or
handling time once it is known, or again when a late event changes it.

Pure: no I/O.
"""

from __future__ import annotations

import zlib

from gateway.domain.canonical import Priority
from gateway.domain.queue import Visit
from gateway.kinds.base import Record
from gateway.kinds.queue.live import SnapshotLine
from gateway.store.points import make_line

LINE = "queue_line"
WAIT = "queue_wait"
HANDLING = "queue_handling"
MS = 1_000_000


def point_ts(at_ns: int, ticket: str) -> int:
    """The point's time: `at_ns` to the millisecond, below it a number taken from the ticket."""
    return at_ns - at_ns % MS + zlib.crc32(ticket.encode()) % MS


def snapshot_records(site: str, lines: list[SnapshotLine], ts_ns: int) -> list[Record]:
    return [
        (
            Priority.TELEMETRY,
            make_line(
                LINE, {"site": site, "line": s.line}, {"waiting": s.waiting, "open_windows": len(s.open_windows)}, ts_ns
            ),
        )
        for s in lines
    ]


def visit_records(site: str, before: Visit | None, after: Visit) -> list[Record]:
    """The points of what an applied event changed in a visit (`before` None: a new visit)."""
    out: list[Record] = []
    old = before.transactions if before is not None else ()
    for i, tx in enumerate(after.transactions):
        was = old[i] if i < len(old) else None
        tags = {"site": site, "line": tx.line, "window": tx.window}
        wait = tx.waiting_ns
        if wait is not None and tx.queued_ns is not None and (was is None or was.waiting_ns != wait):
            line = make_line(WAIT, tags, {"wait_s": wait / 1e9}, point_ts(tx.queued_ns, after.ticket))
            out.append((Priority.EVENT, line))
        handling = tx.handling_ns
        if handling is not None and tx.started_ns is not None and (was is None or was.handling_ns != handling):
            line = make_line(HANDLING, tags, {"handling_s": handling / 1e9}, point_ts(tx.started_ns, after.ticket))
            out.append((Priority.EVENT, line))
    return out
