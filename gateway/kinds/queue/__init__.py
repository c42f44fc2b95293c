"""Queue system (排队叫号系统): tickets issued, called, served, transferred, missed.

Its projection applies each event to its visit through gateway/domain/queue.py and keeps the
visits in the state database (gateway/kinds/queue/store.py): a resend (the same event id) counts
once, and a ticket issued again the same day (the server restarted its numbering) is a new
generation, another visit. The retained snapshot says how the lines stand now; the projection
keeps the latest per device and sets it beside what the events say (gateway/kinds/queue/live.py).
Its conditions are a line's long wait and an idle window (gateway/kinds/queue/alerts.py).
From what it applies it derives the series Grafana reads (`queue_line`, `queue_wait`,
`queue_handling`: gateway/kinds/queue/series.py).
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.domain.calendar import Schedule
from gateway.domain.canonical import Event
from gateway.domain.conditions import Condition
from gateway.domain.queue import EVENTS, RESULTS, Visit, apply, event_id, reissued
from gateway.domain.rated_visits import Served
from gateway.kinds.base import Kind, Record
from gateway.kinds.queue import words
from gateway.kinds.queue.alerts import opening_ns, queue_conditions, windows_today
from gateway.kinds.queue.live import LineNow, SnapshotLine, lines_now, parse_lines
from gateway.kinds.queue.pages import PAGES
from gateway.kinds.queue.series import snapshot_records, visit_records
from gateway.kinds.queue.settings import SETTINGS, QueueContext
from gateway.kinds.queue.store import VisitStore
from gateway.kinds.reads import QueueFigures, Visits
from gateway.store.staged import attach

if TYPE_CHECKING:
    from gateway.kinds.base import DeviceView, StateDatabase

log = logging.getLogger(__name__)

KIND_NAME = "queue"
SNAPSHOT = "queue_snapshot"
LEADS_KEPT = 8  # snapshots whose lead is kept: a few minutes of a server on time
CACHE_MAX = 20_000  # tickets held in memory (a big hall's day is a few thousand)


def _last_ns(v: Visit) -> int:
    tx = v.current
    return tx.ended_ns or tx.last_called_ns or tx.queued_ns or 0


class QueueProjection:
    name = "queue"

    def __init__(self, cfg: QueueContext, devices: Mapping[str, DeviceView]) -> None:
        self.zone = ZoneInfo(cfg.timezone)
        self.site = cfg.site
        wh = cfg.working_hours
        self.schedule = Schedule.of(wh.days, wh.start, wh.end, wh.holidays, wh.workdays)
        self.settings = cfg.queue
        self.servers = {d.id for d in devices.values() if d.kind == KIND_NAME}
        self.store: VisitStore | None = None
        self.counts: Counter[str] = Counter()  # applied, resend, reissued, bad_snapshot
        self._visits: dict[tuple[str, str], list[Visit]] = {}  # (day, ticket) -> its generations
        self.snapshots: dict[str, tuple[int, list[SnapshotLine]]] = {}  # device -> (ts, lines)
        # servers that restarted their numbering since their last snapshot: their clock may have
        # gone back too (a reboot that reset it, the demo's server starting its day over), so
        # their next snapshot is taken even when older than the one kept
        self.restarted: set[str] = set()
        # device -> how far its clock led the gateway's at its last LEADS_KEPT kept snapshots (ts minus
        # when it came): a snapshot delivered late only makes one smaller, so the largest is the lead
        self.leads: dict[str, deque[int]] = {}
        # today's visits by (ticket, generation), read once a day and kept as events come: the
        # conditions are asked every second, and a day's visits read and parsed each time would not do
        self._today: tuple[str, dict[tuple[str, int], Visit]] | None = None

    def attach(self, journal: StateDatabase) -> Callable[[], None]:
        self.store, close = attach(journal.path, lambda conn: VisitStore(conn, self.hour_of, self.day_of))
        self.store.rebuild()
        return close

    # whole seconds, floored: ts_ns / 1e9 would round a time just before midnight into the next day
    def day_of(self, ts_ns: int) -> str:
        return datetime.fromtimestamp(ts_ns // 1_000_000_000, self.zone).date().isoformat()

    def hour_of(self, ts_ns: int) -> str:
        return f"{datetime.fromtimestamp(ts_ns // 1_000_000_000, self.zone).hour:02d}"

    def apply(self, event: Event, now_ns: int) -> list[Record] | None:
        if event.device not in self.servers or self.store is None:
            return None
        if event.name == SNAPSHOT:
            lines = parse_lines(event.fields.get("lines"))
            kept = self.snapshots.get(event.device, (-1, []))[0]
            if lines is None:
                self.counts["bad_snapshot"] += 1
                return None
            if event.ts_ns >= kept or event.device in self.restarted:
                self.snapshots[event.device] = (event.ts_ns, lines)
                leads = self.leads.setdefault(event.device, deque(maxlen=LEADS_KEPT))
                if event.device in self.restarted:
                    leads.clear()  # its clock may have gone back with its numbering
                leads.append(event.ts_ns - now_ns)
                self.restarted.discard(event.device)
            # The same snapshot again (retained, after a reconnect) derives nothing new.
            return None if event.ts_ns == kept else snapshot_records(self.site, lines, event.ts_ns)
        if event.name not in EVENTS:
            return None
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
            return None
        last = gens[-1] if gens else None
        if last is None or reissued(last, event.name, eid):
            self.counts["reissued"] += last is not None
            if last is not None:
                self.restarted.add(event.device)
            gens.append(apply(None, event.name, event.fields, event.ts_ns, day, eid))
            last = None  # a new visit: everything it knows is new
        else:
            gens[-1] = apply(last, event.name, event.fields, event.ts_ns, day, eid)
        self.counts["applied"] += 1
        self.store.put(len(gens) - 1, gens[-1])
        self.store.flush_soon()
        if self._today is not None and self._today[0] == day:
            self._today[1][(ticket, len(gens) - 1)] = gens[-1]
            if len(self._today[1]) > CACHE_MAX:
                self._shed_today()
        return visit_records(self.site, last, gens[-1])

    def visits(self, start_ns: int, end_ns: int) -> list[tuple[int, Visit]]:
        assert self.store is not None
        return self.store.between(start_ns, end_ns)

    def served(self, start_ns: int, end_ns: int) -> list[Served]:
        """The served visits that began in [start, end) (`Visits`: what the ratings' 评价率 counts against)."""
        if self.store is None:
            return []
        return [Served(*row) for row in self.store.served(start_ns, end_ns, RESULTS)]

    def figures(self, start_ns: int, end_ns: int, by: str | None) -> dict[Any, dict[str, Any]]:
        """The summary's figures per group (`QueueFigures`: the operations reports)."""
        return self.store.figures(start_ns, end_ns, by) if self.store is not None else {}

    def first_day(self) -> str | None:
        """`QueueFigures`: the first day of a visit kept."""
        return self.store.first_day() if self.store is not None else None

    def lines(self, now_ns: int) -> list[LineNow]:
        """Every line now: the snapshots' (all the hall's queue servers) beside today's events."""
        assert self.store is not None
        snapshot = [line for _, lines in self.snapshots.values() for line in lines]
        ts = max((t for t, _ in self.snapshots.values()), default=None)
        return lines_now(snapshot, ts, self.today(now_ns), self.server_now(now_ns))

    def server_now(self, now_ns: int) -> int:
        """Now on the queue server's clock: the gateway's plus the lead of the server whose snapshot
        is the newest. The waits are differences of the server's own times, so they are measured
        against its clock: against the gateway's, a server a few minutes off (or the demo's day,
        stamped from 08:30 whatever the hour) would have every ticket waiting for hours."""
        if not self.snapshots:
            return now_ns
        newest = max(self.snapshots, key=lambda d: self.snapshots[d][0])
        return now_ns + max(self.leads.get(newest) or (0,))

    def today(self, now_ns: int) -> list[Visit]:
        assert self.store is not None
        day = self.day_of(now_ns)
        if self._today is None or self._today[0] != day:
            self._today = (day, {(v.ticket, g): v for g, v in self.store.day(day)})
        return list(self._today[1].values())

    def _shed_today(self) -> None:
        """Past CACHE_MAX visits in a day (six of the largest halls' days: a flood of invented
        tickets), keep the newest half in memory, ended visits let go first; the store keeps them
        all, so only the live figures and alerts see fewer (counted in `today_shed`)."""
        assert self._today is not None
        visits = self._today[1]
        order = sorted(visits, key=lambda k: (not visits[k].ended, _last_ns(visits[k])))
        for key in order[: len(visits) - CACHE_MAX // 2]:
            del visits[key]
        self.counts["today_shed"] += len(order) - len(visits)
        log.warning("queue: %d visits today, more than %d: the oldest let go from memory", len(order), CACHE_MAX)

    def conditions(self, now_ns: int) -> list[Condition]:
        now = self.server_now(now_ns)  # the windows' last calls are the server's times too
        opened = opening_ns(self.schedule, self.zone, now)
        if self.store is None or opened is None:
            return []
        return queue_conditions(self.lines(now_ns), windows_today(self.today(now_ns)), now, opened, self.settings)

    def state(self) -> dict[str, Any] | None:
        return None  # visits are in the state database as they come; the snapshot is retained

    def restore(self, state: dict[str, Any]) -> None:
        pass


KIND = Kind(
    name=KIND_NAME,
    description="queue system (排队叫号系统)",
    label="排队叫号",
    pages=PAGES,
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
    settings=SETTINGS,
    router="gateway.kinds.queue.api:router",
    provides={Visits: QueueProjection, QueueFigures: QueueProjection},
    errors=words.ERRORS,
    labels=words.LABELS,
    summaries=words.SUMMARIES,
    page_words=words.PAGE_WORDS,
)
