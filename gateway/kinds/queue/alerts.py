"""What the queue asks a person to act on, for the alert lifecycle. Pure: the clock is passed in.

- `queue_long_wait` (key `line A`): the ticket of a line that has waited longest (by the events)
  has waited past the line's threshold (`queue.lines.<line>.long_wait_min`, else
  `queue.long_wait_min`). It clears once that ticket is called (or ends).
- `queue_window_idle` (key `window W03`): a window open now has called nobody for
  `queue.idle_window_min` while people wait on a line it serves. Open, and which lines it serves:
  the queue server's snapshot (its `open_windows` per line) when there is one, so a window closed
  for lunch is not idle; without a snapshot, the windows that called today and their tickets' lines.
  Idle counts from the latest of: its last call or the end of its last case, the start of today's
  working hours, and the moment people began waiting on its lines (a window with nobody to call is
  not idle). A window busy with a case (the ticket of its last call started, not ended) is not idle.

Both hold only in working hours: after closing, a ticket left waiting is a lost event, not a person.
Where the server's snapshot, newer than the oldest ticket the events say waits, says nobody waits
on the line, the events lost a call: nobody waits there, and neither alert holds for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.domain.calendar import Schedule
from gateway.domain.conditions import Condition
from gateway.domain.queue import Visit
from gateway.kinds.queue.live import LineNow
from gateway.kinds.queue.settings import QueueSettings

LONG_WAIT = "queue_long_wait"
WINDOW_IDLE = "queue_window_idle"
NS = 10**9


@dataclass(frozen=True, slots=True)
class WindowDay:
    """One window's day by the events."""

    last_ns: int  # its latest call, or the latest end of a case it had (finished, no-show, transferred away)
    serving: bool  # the ticket of its latest call has started and not ended: it is busy with a case
    lines: frozenset[str]  # the lines of the tickets it called


def windows_today(visits: Iterable[Visit]) -> dict[str, WindowDay]:
    last: dict[str, int] = {}
    latest_call: dict[str, tuple[int, bool]] = {}  # window -> (its latest call, that ticket in service)
    lines: dict[str, set[str]] = {}
    for v in visits:
        for tx in v.transactions:
            if not tx.window or tx.last_called_ns is None:
                continue
            at = max(tx.last_called_ns, tx.ended_ns or 0)
            last[tx.window] = max(last.get(tx.window, at), at)
            lines.setdefault(tx.window, set()).add(tx.line)
            if tx.last_called_ns >= latest_call.get(tx.window, (-1, False))[0]:
                latest_call[tx.window] = (tx.last_called_ns, tx.started_ns is not None and not tx.outcome)
    return {w: WindowDay(last[w], latest_call[w][1], frozenset(lines[w])) for w in last}


def opening_ns(schedule: Schedule, zone: ZoneInfo, now_ns: int) -> int | None:
    """When today's working hours began, while they last; None outside them."""
    now = datetime.fromtimestamp(now_ns / NS, zone)
    if not schedule.working(now):
        return None
    opened = datetime.combine(now.date(), schedule.start, zone)
    return int(opened.timestamp()) * NS + opened.microsecond * 1000


def _oldest_ns(line: LineNow, now_ns: int) -> int | None:
    """When the ticket waiting longest by the events was queued."""
    return None if line.longest_wait_s is None else now_ns - round(line.longest_wait_s * NS)


def _lost_calls(line: LineNow, oldest: int | None) -> bool:
    """The server's snapshot, taken after the oldest waiting ticket was queued, says nobody waits."""
    snap = line.snapshot_ts_ns
    return line.waiting == 0 and snap is not None and (oldest is None or snap >= oldest)


def waiting_since(line: LineNow, now_ns: int) -> int | None:
    """Since when someone has waited on the line without a break, as far as the gateway can tell
    (the oldest ticket the events hold, or the snapshot that counts people the events do not have);
    None: nobody waits."""
    oldest = _oldest_ns(line, now_ns)
    if _lost_calls(line, oldest):
        return None
    known = [] if oldest is None else [oldest]
    if line.waiting and line.snapshot_ts_ns is not None:
        known.append(line.snapshot_ts_ns)
    return min(known, default=None)


def _label(line: LineNow) -> str:
    return f"{line.line} 线" + (f"（{line.name}）" if line.name else "")


def long_waits(lines: Iterable[LineNow], limit_s: Callable[[str], float], now_ns: int) -> list[Condition]:
    out = []
    for line in lines:
        oldest = _oldest_ns(line, now_ns)
        if oldest is None or _lost_calls(line, oldest):
            continue
        waited_s, limit = (now_ns - oldest) / NS, limit_s(line.line)
        if waited_s > limit:
            out.append(
                Condition(
                    LONG_WAIT,
                    f"line {line.line}",
                    "warning",
                    # English here (the logs, an English reader); the catalogue's template says it in Chinese
                    f"line {line.line}: longest wait {waited_s // 60:.0f} min, over {limit / 60:g} min",
                    params={"line": _label(line), "waited": f"{waited_s // 60:.0f}", "limit": f"{limit / 60:g}"},
                )
            )
    return out


def idle_windows(
    lines: Sequence[LineNow], windows: Mapping[str, WindowDay], now_ns: int, opened_ns: int, idle_s: float
) -> list[Condition]:
    serves: dict[str, set[str]] = {}
    if any(line.snapshot_ts_ns is not None for line in lines):
        for line in lines:
            for w in line.open_windows:
                serves.setdefault(w, set()).add(line.line)
    else:
        serves = {w: set(d.lines) for w, d in windows.items()}
    by_line = {line.line: line for line in lines}
    out = []
    for w, served in sorted(serves.items()):
        day = windows.get(w)
        if day is not None and day.serving:
            continue
        since = {
            name: s
            for name in sorted(served)
            if name in by_line and (s := waiting_since(by_line[name], now_ns)) is not None
        }
        if not since:
            continue
        idle_from = max(opened_ns, min(since.values()), day.last_ns if day is not None else opened_ns)
        if now_ns - idle_from < idle_s * NS:
            continue
        people = sum(by_line[n].waiting or by_line[n].events_waiting for n in since)
        out.append(
            Condition(
                WINDOW_IDLE,
                f"window {w}",
                "warning",
                f"window {w} called nobody for {(now_ns - idle_from) // (60 * NS)} min "
                f"while {people} wait on line(s) {', '.join(since)}",
                params={
                    "window": w,
                    "minutes": (now_ns - idle_from) // (60 * NS),
                    "lines": "、".join(since),
                    "people": people,
                },
            )
        )
    return out


def queue_conditions(
    lines: Sequence[LineNow],
    windows: Mapping[str, WindowDay],
    now_ns: int,
    opened_ns: int | None,
    settings: QueueSettings,
) -> list[Condition]:
    """What holds now; `opened_ns` None: outside working hours, nothing does."""
    if opened_ns is None:
        return []
    return long_waits(lines, settings.long_wait_s, now_ns) + idle_windows(
        lines, windows, now_ns, opened_ns, settings.idle_window_min * 60
    )
