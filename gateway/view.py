"""The read model: what the API and /metrics may know about the running gateway.

Routes and the metrics collector read snapshots from here and never reach into the hub, the
links or the configuration; this module is the one place that knows where each figure lives.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from drivers.modbus import LineStats, ModbusLine
from drivers.mqtt.options import LinkStats
from gateway.alerts.delivery import TargetStats
from gateway.alerts.engine import AlertDesk
from gateway.config.hall import HallConfig
from gateway.devices import DeviceEntry
from gateway.domain.calendar import Schedule
from gateway.domain.occupancy import HALL, Bucket, ZoneCount
from gateway.health import RTT_BUCKETS_S, HealthBook
from gateway.ingest.hub import Hub, Unknown
from gateway.ingest.workers import worker_problems
from gateway.kinds.lookup import Projections
from gateway.kinds.reads import Zones
from gateway.readiness import (
    Readiness,
    ago,
    broker_readiness,
    district_readiness,
    sink_readiness,
    state_readiness,
)
from gateway.store.drain import DrainStats
from gateway.store.journal import Journal, QuarantineRow
from gateway.store.outbox import Outbox, OutboxStats
from gateway.store.vouch import Vouch
from gateway.supervisor import Part, Supervisor

if TYPE_CHECKING:
    from gateway.commands import CommandDesk
    from gateway.signin.desk import SignInDesk

SNAPSHOT_MAX_AGE_S = 0.25
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    id: str
    kind: str
    protocol: str
    profile: str
    online: bool
    health: str
    detail: str
    since_ns: int | None
    last_seen_ns: int | None
    zone: str | None
    window: str | None


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    device: DeviceSnapshot
    last_error: str | None
    info: dict[str, Any]
    counters: dict[str, int]
    history: list[tuple[int, str, str]]  # newest first: (at_ns, health, detail)
    link: dict[str, Any]
    unknown_channels: list[Unknown]  # channels its profile does not know that it used, newest first


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    zone: str  # a zone id, or "*" for the whole hall
    name: str
    occupancy: int
    capacity: int
    entered: int
    left: int
    updated_ns: int | None
    clamped: int = 0  # how far below zero in - out went since the last reset (hidden by the floor)
    reset_ns: int | None = None
    residual: int | None = None  # what the zone showed at its last reset: the drift of that day
    residual_clamped: int | None = None
    over_capacity: bool = False
    suspect: tuple[str, ...] = ()  # "<counter>: <why>" for each counter whose counts are in doubt


@dataclass
class View:
    cfg: HallConfig
    devices: Mapping[str, DeviceEntry]
    hub: Hub
    outbox: Outbox
    journal: Journal
    supervisor: Supervisor
    lines: Mapping[str, ModbusLine]
    drain: DrainStats
    alerts: AlertDesk
    sink_name: str | None = None
    sink_url: str | None = None  # already without credentials
    district: DrainStats | None = None  # the district store's forwarder, when the hall has one
    district_vouch: Vouch | None = None  # what it refused to send, and our clock against the district's
    mqtt_stats: Callable[[], LinkStats | None] = lambda: None
    workers: dict[int, Any] = field(default_factory=dict)  # gateway.ingest.workers.WorkerState by index
    delivery: dict[str, TargetStats] = field(default_factory=lambda: {"mqtt": TargetStats(), "webhook": TargetStats()})
    commands: CommandDesk | None = None  # the one way down (gateway/commands/)
    signin: SignInDesk | None = None  # sign-in with named accounts (gateway/signin/)
    # What the kinds and features serve to their routes (a pickup desk, the phone compliance), by
    # type: gateway/kinds/wiring.py's Parts.serves.
    serves: dict[type, object] = field(default_factory=dict)

    _snapshots: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    _rows: dict[str, tuple[tuple[Any, ...], DeviceSnapshot, bytes]] = field(default_factory=dict)

    def snapshot(self, key: Any, build: Callable[[], Any], max_age_s: float = SNAPSHOT_MAX_AGE_S) -> Any:
        """`build()`'s result, built again only when the last one is older than `max_age_s`: a large
        hall's lists cost milliseconds to build, and many screens ask for them every few seconds."""
        now = time.monotonic()
        hit = self._snapshots.get(key)
        if hit is not None and now - hit[0] < max_age_s:
            return hit[1]
        value = build()
        self._snapshots[key] = (now, value)
        return value

    # Set when the gateway stops: long-lived responses (the occupancy stream) end on it.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _zone_waiters: set[asyncio.Event] = field(default_factory=set)
    _zone_listener: bool = False

    # -- the hall ---------------------------------------------------------------------------

    @property
    def site(self) -> str:
        return self.cfg.site

    @property
    def title(self) -> str:
        return self.cfg.name or self.cfg.site

    @property
    def timezone(self) -> str:
        return self.cfg.timezone

    @property
    def schedule(self) -> Schedule:
        w = self.cfg.working_hours
        return Schedule.of(w.days, w.start, w.end, w.holidays, w.workdays)

    # -- devices ------------------------------------------------------------------------------

    @property
    def _health(self) -> HealthBook:
        return self.hub.health

    def device_ids(self) -> list[str]:
        return list(self.devices)

    def device(self, device_id: str) -> DeviceSnapshot | None:
        d = self.devices.get(device_id)
        if d is None:
            return None
        h = self._health.devices[device_id]
        return DeviceSnapshot(
            d.id,
            d.kind,
            d.protocol,
            d.profile.name,
            h.online,
            h.health,
            h.detail,
            h.since_ns,
            h.last_seen_ns,
            d.config.zone,
            d.config.window,
        )

    def list_devices(self) -> list[DeviceSnapshot]:
        return [s for s in map(self.device, self.devices) if s is not None]

    def device_rows(self, render: Callable[[DeviceSnapshot], bytes]) -> list[tuple[DeviceSnapshot, bytes]]:
        """Every device with `render(device)`, rendered again only when its health or last-seen time
        changed since the last call (a steady hall changes a fraction of its devices a second)."""
        out = []
        cache = self._rows
        for device_id in self.devices:
            h = self._health.devices[device_id]
            key = (h.last_seen_ns, h.online, h.health, h.detail, h.since_ns)
            hit = cache.get(device_id)
            if hit is None or hit[0] != key:
                snap = self.device(device_id)
                assert snap is not None
                hit = cache[device_id] = (key, snap, render(snap))
            out.append((hit[1], hit[2]))
        return out

    def device_detail(self, device_id: str) -> DeviceDetail | None:
        snap = self.device(device_id)
        if snap is None:
            return None
        h = self._health.devices[device_id]
        return DeviceDetail(
            snap,
            h.last_error,
            dict(h.info),
            dict(h.counters),
            [(t.ts_ns, t.health, t.detail) for t in reversed(h.history)],
            self._link(device_id),
            [u for u in self.hub.unknown_channels.newest_first() if u.device == device_id],
        )

    def _link(self, device_id: str) -> dict[str, Any]:
        d = self.devices[device_id]
        # `state` (labels' `link_state`): what a technician checks first when a device is offline.
        if d.topic is not None:
            stats = self.mqtt_stats()
            up = bool(stats and stats.connected)
            return {"state": "up" if up else "down", "topic": d.topic, "broker_connected": up}
        m = d.config.modbus
        assert m is not None
        line = self.lines.get(m.bus)
        s: LineStats | None = line.stats if line else None
        failures = self._health.devices[device_id].failures_in_row
        return {
            "state": "no_answer" if failures else "up",
            "failures_in_row": failures,
            "line": m.bus,
            "unit": m.unit,
            "framer": m.framer,
            "line_requests": s.requests if s else 0,
            "line_failures": s.failures if s else 0,
            "line_latency_ms": round(s.latency_ms, 2) if s and s.latency_ms is not None else None,
        }

    def poll_round_trips(self) -> dict[str, tuple[list[tuple[float, int]], float]]:
        """Per polled device: cumulative (upper bound, count) buckets and the sum, for a histogram."""
        out = {}
        for device, counts in self._health.rtt.items():
            bounds = [*RTT_BUCKETS_S, float("inf")]
            cumulative = list(zip(bounds, itertools.accumulate(counts), strict=True))
            out[device] = (cumulative, self._health.rtt_sum.get(device, 0.0))
        return out

    def unknown_devices(self) -> list[Unknown]:
        """The most recently seen ones (at most UNKNOWN_LIMIT), newest first."""
        return self.hub.unknown.newest_first()

    def unknown_evicted(self) -> dict[str, int]:
        """How many the bounded lists let go (the least recently seen) to make room."""
        return {"device": self.hub.unknown.evicted, "channel": self.hub.unknown_channels.evicted}

    def quarantine(
        self, *, device: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[QuarantineRow]:
        return self.journal.quarantined(device=device, limit=limit, before_id=before_id)

    def served(self, cls: type[T]) -> T | None:
        """What a kind or feature serves of this type, or None when the hall has none."""
        return cast("T | None", self.serves.get(cls))

    @property
    def projections(self) -> Projections:
        """The hub's projections by class or by the read API they provide (gateway/kinds/lookup.py)."""
        return Projections(self.hub.projections)

    # -- zones ----------------------------------------------------------------------------------

    @property
    def occupancy(self) -> Zones | None:
        """The zones' projection (None in a hall without counters)."""
        return self.projections.reads(Zones)

    def zone_ids(self) -> list[str]:
        return [z.id for z in self.cfg.zones] + [HALL]

    def zones(self, now_ns: int | None = None) -> list[ZoneSnapshot]:
        """Every zone, then the whole hall (zone "*")."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        proj = self.occupancy
        counts: dict[str, ZoneCount] = dict(proj.occupancy.zones) if proj is not None else {}
        if proj is not None:
            counts[HALL] = proj.occupancy.hall
        caps = {z.id: z.capacity for z in self.cfg.zones}
        caps[HALL] = self.cfg.occupancy.hall_capacity or sum(caps.values()) or 1
        names = {z.id: z.name for z in self.cfg.zones} | {HALL: self.title}
        out = []
        for zid in self.zone_ids():
            c = counts.get(zid) or ZoneCount(zid, caps[zid])
            suspect = tuple(proj.suspect(zid, now_ns)) if proj is not None else ()
            out.append(
                ZoneSnapshot(
                    zid,
                    names[zid],
                    c.occupancy,
                    c.capacity,
                    c.entered,
                    c.left,
                    c.updated_ns,
                    c.clamped,
                    c.reset_ns,
                    c.residual,
                    c.residual_clamped,
                    c.over,
                    suspect,
                )
            )
        return out

    def projection(self, name: str) -> Any:
        """A projection by name (`Projection.name`), or None when the hall's kinds have none."""
        return next((p for p in self.hub.projections if p.name == name), None)

    def zone_minutes(self, zone: str, start_ns: int, end_ns: int) -> list[Bucket]:
        """The gateway's own per-minute history of a zone (or "*"), the minute still filling included."""
        rows = {
            r[0]: Bucket(zone, *r[:3], occupancy=r[3], clamped=r[4])
            for r in self.journal.occupancy_minutes(zone, start_ns, end_ns)
        }
        proj = self.occupancy
        if proj is not None:  # not yet saved, or still open: newer than what the table holds
            for b in [*proj.history_pending, *proj.open_buckets()]:
                if b.zone == zone and start_ns <= b.start_ns < end_ns:
                    rows[b.start_ns] = b
        return [rows[k] for k in sorted(rows)]

    @contextmanager
    def zone_changes(self) -> Iterator[asyncio.Event]:
        """An event set whenever a zone's figures (or their suspect or over-capacity flags) change."""
        proj = self.occupancy
        if proj is not None and not self._zone_listener:
            proj.listeners.append(lambda: [e.set() for e in self._zone_waiters])
            self._zone_listener = True
        event = asyncio.Event()
        self._zone_waiters.add(event)
        try:
            yield event
        finally:
            self._zone_waiters.discard(event)

    # -- the gateway itself -------------------------------------------------------------------------

    def message_counts(self) -> dict[str, int]:
        """What the hub saw, by outcome (events, quarantined, unknown_topic, poll_error, ...)."""
        return dict(self.hub.stats)

    def quarantine_counts(self) -> dict[str, int]:
        return dict(self.hub.quarantined)

    def projection_errors(self) -> dict[str, int]:
        return {p.name: self.hub.projection_errors.get(p.name, 0) for p in self.hub.projections}

    @property
    def store_writable(self) -> bool:
        return self.hub.store_error is None

    def outbox_stats(self) -> OutboxStats:
        return self.outbox.stats()

    def parts(self) -> list[Part]:
        return list(self.supervisor.parts.values())

    def line_stats(self) -> dict[str, LineStats]:
        return {name: line.stats for name, line in self.lines.items()}

    def readiness(self) -> Readiness:
        problems: list[str] = []
        detail: dict[str, Any] = {}
        stats = self.mqtt_stats()
        if stats is not None:
            detail["broker"], problem = broker_readiness(stats, f"{self.cfg.broker.host}:{self.cfg.broker.port}")
            problems += [problem] if problem else []
        detail["outbox"] = asdict(self.outbox.stats())
        if self.workers:
            detail["workers"] = {str(i): w.status for i, w in self.workers.items()}
            problems += worker_problems(self.workers)
        if self.outbox.set_aside is not None:
            detail["outbox"]["set_aside"] = self.outbox.set_aside.name
        if self.hub.store_error is not None:
            since, what = self.hub.store_error
            problems.append(f"outbox cannot store records since {ago(since)}: {what}")
        if self.journal.set_aside is not None:
            detail["state_set_aside"] = self.journal.set_aside.name
        detail["state"], problem = state_readiness(self.journal.file.writes)
        if problem:
            problems.append(problem)
        if self.sink_name is not None:
            detail["sink"], problem = sink_readiness(self.drain, self.sink_name, self.sink_url)
            problems += [problem] if problem else []
        if self.district is not None:
            # The site works without the district: its state is told, never a reason not to be ready.
            detail["district"] = district_readiness(
                self.district, self.cfg.district.url, self.outbox_stats(), self.district_vouch
            )
        detail["parts"] = {
            p.name: {"up": p.up, "since_ns": p.since_ns, "restarts": p.restarts, "last_error": p.last_error}
            for p in self.supervisor.parts.values()
        }
        for p in self.supervisor.down():
            problems.append(f"{p.name} is down since {ago(p.since_ns)}: {p.last_error}")
        return Readiness(not problems, problems, detail)
