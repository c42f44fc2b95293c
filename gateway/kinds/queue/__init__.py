"""Queue system (排队叫号系统): tickets issued, called, served, transferred, missed.

Its projection applies each event to its visit through gateway/domain/queue.py and keeps the
visits in the state database (gateway/kinds/queue/store.py): a resend (the same event id) counts
once, and a ticket issued again the same day (the server restarted its numbering) is a new
generation, another visit. The retained snapshot says how the lines stand now; the projection
keeps the latest per device and sets it beside what the events say (gateway/kinds/queue/live.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.domain.canonical import Event
from gateway.domain.queue import EVENTS, Visit, apply, event_id, reissued
from gateway.kinds.base import Kind, KindContext
from gateway.kinds.queue.live import LineNow, SnapshotLine, lines_now, parse_lines
from gateway.kinds.queue.store import VisitStore
from gateway.store.staged import attach

if TYPE_CHECKING:
    from gateway.kinds.base import DeviceView, StateDatabase

KIND_NAME = "queue"
SNAPSHOT = "queue_snapshot"
CACHE_MAX = 20_000  # tickets held in memory (a big hall's day is a few thousand)


class QueueProjection:
    name = "queue"

    def __init__(self, cfg: KindContext, devices: Mapping[str, DeviceView]) -> None:
        self.zone = ZoneInfo(cfg.timezone)
        self.servers = {d.id for d in devices.values() if d.kind == KIND_NAME}
        self.store: VisitStore | None = None
        self.counts: Counter[str] = Counter()  # applied, resend, reissued, bad_snapshot
        self._visits: dict[tuple[str, str], list[Visit]] = {}  # (day, ticket) -> its generations
        self.snapshots: dict[str, tuple[int, list[SnapshotLine]]] = {}  # device -> (ts, lines)

    def attach(self, journal: StateDatabase) -> Callable[[], None]:
        self.store, close = attach(journal.path, lambda conn: VisitStore(conn, self.hour_of, self.day_of))
        self.store.rebuild()
        return close

    # whole seconds, floored: ts_ns / 1e9 would round a time just before midnight into the next day
    def day_of(self, ts_ns: int) -> str:
        return datetime.fromtimestamp(ts_ns // 1_000_000_000, self.zone).date().isoformat()

    def hour_of(self, ts_ns: int) -> str:
        return f"{datetime.fromtimestamp(ts_ns // 1_000_000_000, self.zone).hour:02d}"

    def apply(self, event: Event, now_ns: int) -> None:
        if event.device not in self.servers or self.store is None:
            return
        if event.name == SNAPSHOT:
            lines = parse_lines(event.fields.get("lines"))
            if lines is None:
                self.counts["bad_snapshot"] += 1
            elif event.ts_ns >= self.snapshots.get(event.device, (-1, []))[0]:
                self.snapshots[event.device] = (event.ts_ns, lines)
            return
        if event.name not in EVENTS:
            return
        ticket = str(event.fields.get("ticket") or "")
        day = self.day_of(event.ts_ns)
        eid = event_id(event.device, event.seq, event.ts_ns, event.name)
        key = (day, ticket)
        gens = self._visits.get(key)
        if gens is None:
            if len(self._visits) >= CACHE_MAX:
                self._visits.clear()  # reloaded from the store as events come
            gens = self._visits[key] = self.store.generations(day, ticket)
        if any(eid in v.seen for v in gens):
            self.counts["resend"] += 1
            return
        last = gens[-1] if gens else None
        if last is None or reissued(last, event.name, eid):
            self.counts["reissued"] += last is not None
            gens.append(apply(None, event.name, event.fields, event.ts_ns, day, eid))
        else:
            gens[-1] = apply(last, event.name, event.fields, event.ts_ns, day, eid)
        self.counts["applied"] += 1
        self.store.put(len(gens) - 1, gens[-1])
        self.store.flush_soon()

    def visits(self, start_ns: int, end_ns: int) -> list[tuple[int, Visit]]:
        assert self.store is not None
        return self.store.between(start_ns, end_ns)

    def lines(self, now_ns: int) -> list[LineNow]:
        """Every line now: the snapshots' (all the hall's queue servers) beside today's events."""
        assert self.store is not None
        snapshot = [line for _, lines in self.snapshots.values() for line in lines]
        ts = max((t for t, _ in self.snapshots.values()), default=None)
        today = [v for _, v in self.store.day(self.day_of(now_ns))]
        return lines_now(snapshot, ts, today, now_ns)

    def state(self) -> dict[str, Any] | None:
        return None  # visits are in the state database as they come; the snapshot is retained

    def restore(self, state: dict[str, Any]) -> None:
        pass


KIND = Kind(
    name=KIND_NAME,
    description="queue system (排队叫号系统)",
    label="排队叫号",
    signals={
        "issued": frozenset({"ticket", "line", "item", "source"}),
        "called": frozenset({"ticket", "window", "staff_id"}),
        "started": frozenset({"ticket", "window", "staff_id"}),
        "finished": frozenset({"ticket", "window", "staff_id", "case_id", "result"}),
        "transferred": frozenset({"ticket", "from_window", "to_line"}),
        "no_show": frozenset({"ticket", "window"}),
        SNAPSHOT: frozenset({"lines"}),
    },
    # An event of no ticket belongs to no visit; a snapshot without lines says nothing.
    required={**{name: frozenset({"ticket"}) for name in EVENTS}, SNAPSHOT: frozenset({"lines"})},
    projections=(QueueProjection,),
    stores=(VisitStore,),
    router="gateway.kinds.queue.api:router",
)
