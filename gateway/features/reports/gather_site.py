"""A period's inputs of the hall as a place: the window posts' days (the clock-in machines'
(考勤机) `Presence`), the zones' minutes (the people counters' `Zones` and the gateway's own occupancy
history), the devices' health and incident alerts, the pickup lockers' items. A source the hall
lacks stays None (its figures then say so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from gateway.domain.occupancy import HALL, Bucket
from gateway.features.reports.figures_site import INCIDENT_RULES
from gateway.features.reports.inputs import DeviceSpan, LockerItem
from gateway.kinds.reads import PostDay, Presence, Zones


class MinutesRead(Protocol):
    def occupancy_minutes(self, zone: str, start_ns: int, end_ns: int) -> list[tuple[int, int, int, int, int]]: ...


class HealthRead(Protocol):
    def transitions(self, device: str, limit: int = ...) -> list[tuple[int, str, str]]: ...


class AlertsRead(Protocol):
    def alerts_opened(
        self, start_ns: int, end_ns: int, rules: Sequence[str]
    ) -> list[tuple[str, str | None, int, int | None]]: ...


class LockersRead(Protocol):
    def pickup_items_between(self, start_ns: int, end_ns: int) -> list[tuple[str, int, int, int | None, str]]: ...


@dataclass(frozen=True)
class Device:
    id: str
    kind: str  # the kind's Chinese label
    zone: str  # "" when the device names none


@dataclass
class SiteSources:
    presence: Presence | None = None  # None: no clock-in machine (考勤机)
    zones: Zones | None = None  # None: no people counter
    minutes: MinutesRead | None = None
    health: HealthRead | None = None
    alerts: AlertsRead | None = None
    lockers: LockersRead | None = None  # None: no pickup locker
    devices: Sequence[Device] = ()


@dataclass
class Site:
    posts: list[PostDay] | None
    minutes: dict[str, list[Bucket]] | None  # zone (HALL: the whole hall) -> its minutes
    devices: list[DeviceSpan]
    lockers: list[LockerItem] | None


def gather_site(src: SiteSources, zone_ids: Sequence[str], dates: Sequence[date], start_ns: int, judged: int) -> Site:
    posts = None
    if src.presence is not None:
        posts = [p for d in dates for p in src.presence.post_days(d, judged)]
    minutes = None
    if src.zones is not None and src.minutes is not None:
        minutes = {z: zone_minutes(src, z, start_ns, judged) for z in (*zone_ids, HALL)}
    lockers = None
    if src.lockers is not None:
        lockers = [LockerItem(*row) for row in src.lockers.pickup_items_between(start_ns, judged)]
    return Site(posts, minutes, device_spans(src, start_ns, judged), lockers)


def zone_minutes(src: SiteSources, zone: str, start_ns: int, end_ns: int) -> list[Bucket]:
    """The zone's minutes in [start, end): those saved, and those the counters' projection has not
    saved yet (newer: they replace a saved one of the same minute)."""
    assert src.minutes is not None and src.zones is not None
    rows = {
        r[0]: Bucket(zone, r[0], r[1], r[2], r[3], r[4]) for r in src.minutes.occupancy_minutes(zone, start_ns, end_ns)
    }
    for b in [*src.zones.history_pending, *src.zones.open_buckets()]:
        if b.zone == zone and start_ns <= b.start_ns < end_ns:
            rows[b.start_ns] = b
    return [rows[k] for k in sorted(rows)]


def device_spans(src: SiteSources, start_ns: int, end_ns: int) -> list[DeviceSpan]:
    """Each device's watched and online time in [start, end) from its health transitions (before its
    first transition it is not watched: the gateway has no word of it), and its incidents."""
    incidents: dict[str, list[tuple[int, int | None]]] = {}
    if src.alerts is not None:
        for _, device, opened, ended in src.alerts.alerts_opened(start_ns, end_ns, INCIDENT_RULES):
            if device:
                incidents.setdefault(device, []).append(
                    (opened, ended if ended is not None and ended <= end_ns else None)
                )
    out = []
    for d in src.devices:
        history = src.health.transitions(d.id) if src.health is not None else []
        observed, online = _online(history, start_ns, end_ns)
        out.append(DeviceSpan(d.id, d.kind, d.zone, observed, online, tuple(incidents.get(d.id, ()))))
    return out


def _online(history: Sequence[tuple[int, str, Any]], start_ns: int, end_ns: int) -> tuple[float, float]:
    """(watched, online) seconds in [start, end): each transition's health holds until the next."""
    watched = online = 0
    for n, (at, health, _) in enumerate(history):
        until = history[n + 1][0] if n + 1 < len(history) else end_ns
        a, b = max(at, start_ns), min(until, end_ns)
        if b > a:
            watched += b - a
            online += (b - a) if health != "offline" else 0
    return watched / 1e9, online / 1e9
