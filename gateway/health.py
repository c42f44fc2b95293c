"""Every device's health, fed by the hub like any projection, with its transitions kept in the
state database and logged once, on change. The rules of what is degraded come from the kinds."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.domain import health
from gateway.domain.canonical import HEARTBEAT, READING, STATUS, Event
from gateway.domain.health import DeviceHealth, Transition
from gateway.i18n.catalogue import say
from gateway.kinds.base import Rule, jammed, low_battery
from gateway.kinds.registry import KINDS
from gateway.store.journal import Journal
from gateway.store.writes import Unwritable

if TYPE_CHECKING:
    from gateway.devices import DeviceEntry

log = logging.getLogger(__name__)

# Events whose fields the health rules read (uptime, battery, readings, online); others only count.
_INFO_EVENTS = frozenset({STATUS, HEARTBEAT, READING})
# Kind rules known to read only the device's info, never the clock (a door left open reads it).
TIMELESS_RULES: frozenset[Rule] = frozenset({low_battery, jammed})
RTT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PENDING_MAX = 10_000  # health transitions kept in memory while the state database cannot be written


def _silent(h: DeviceHealth, now_ns: int) -> bool:
    """Past its silence limit: the domain's tick takes it offline (the same test as there)."""
    return (
        h.heartbeat_timeout_ns is not None
        and h.protocol == "mqtt"
        and h.last_seen_ns is not None
        and now_ns - h.last_seen_ns > h.heartbeat_timeout_ns
    )


def _silence_limit(d: DeviceEntry) -> int | None:
    """How long an MQTT device may be silent before it is offline: its profile's missed heartbeats,
    and a little slack for the network (half a period, at most 5 s); None for a device that sends
    no heartbeats."""
    if d.decoder is None:
        return None
    live = d.decoder.liveness
    if live.offline_after_s is None or live.heartbeat_s is None:
        return None
    return int((live.offline_after_s + min(5.0, live.heartbeat_s / 2)) * 1e9)


class HealthBook:
    name = "health"

    def __init__(
        self, devices: Mapping[str, DeviceEntry], journal: Journal | None = None, drift_limit_s: float = 120.0
    ) -> None:
        self.journal = journal
        self.devices = {
            d.id: DeviceHealth(
                d.id,
                d.kind,
                d.protocol,
                rules=KINDS[d.kind].problems,
                keep=KINDS[d.kind].info,
                fold=KINDS[d.kind].fold,
                heartbeat_timeout_ns=_silence_limit(d),
                drift_limit_s=drift_limit_s,
                say=say,  # the catalogue's words for its problems and offline reasons
            )
            for d in devices.values()
        }
        self._pending: list[tuple[str, int, str, str]] = []
        self._evaluated: dict[str, int] = {}  # device -> the time its health was last evaluated by apply
        # Devices whose every rule ignores the clock (TIMELESS_RULES); of them, those evaluated since
        # their inputs (info, online, offline_at) last changed: a tick has nothing new to find.
        self._timeless = {d.id for d in devices.values() if all(r in TIMELESS_RULES for r in KINDS[d.kind].rules)}
        self._steady: set[str] = set()
        self._noted: set[str] = set()  # devices whose health was logged once (the configured ones)
        # poll round trips per device: counts per bucket of RTT_BUCKETS_S (the last: above them all)
        self.rtt: dict[str, list[int]] = {}
        self.rtt_sum: dict[str, float] = {}
        if journal is not None:
            for device_id, h in self.devices.items():
                health.restore(h, journal.transitions(device_id, limit=health.HISTORY))

    def apply(self, event: Event, now_ns: int) -> None:
        h = self.devices[event.device]
        if (
            self._evaluated.get(event.device) == now_ns
            and h.online
            and h.fold is None
            and event.name not in _INFO_EVENTS
        ):
            # Another event of this batch (same time) from a device already evaluated at this time,
            # carrying nothing the rules read: evaluating again would find what it found. Counted.
            h.counters["events"] += 1
            h.last_seen_ns = now_ns
            return
        self._note(event.device, health.observe(h, event, now_ns))
        self._evaluated[event.device] = now_ns
        self._settled(event.device, h)

    def poll_failed(self, device: str, error: str, cause: str, now_ns: int) -> None:
        self._evaluated.pop(device, None)
        self._steady.discard(device)
        self.devices[device].counters[f"poll_{cause}"] += 1
        self._note(device, health.poll_failed(self.devices[device], error, now_ns))

    def round_trip(self, device: str, rtt_s: float, ok: bool) -> None:
        """How long a poll took: kept for answered polls (a timeout says nothing about the device's speed)."""
        if ok:
            self._evaluated.pop(device, None)  # the rules read it
            self._steady.discard(device)
            self.devices[device].info["poll_rtt_s"] = round(rtt_s, 6)
            counts = self.rtt.setdefault(device, [0] * (len(RTT_BUCKETS_S) + 1))
            counts[bisect.bisect_left(RTT_BUCKETS_S, rtt_s)] += 1
            self.rtt_sum[device] = self.rtt_sum.get(device, 0.0) + rtt_s

    def bad_payload(self, device: str, reason: str, detail: str) -> None:
        health.bad_payload(self.devices[device], reason, detail)

    def tick(self, now_ns: int) -> None:
        """Time passing, for every device; a steady one (see `_steady`) that has not gone silent is
        skipped: evaluating it again would find what its last evaluation found (5,000 rating pads
        took 16 ms a second here, all of it holding up the API)."""
        self._evaluated.clear()
        steady = self._steady
        for device, h in self.devices.items():
            if device in steady and h.online and not _silent(h, now_ns):
                continue
            self._note(device, health.tick(h, now_ns))
            self._settled(device, h)

    def _settled(self, device: str, h: DeviceHealth) -> None:
        """Just evaluated: steady while its inputs stay as they are, if time alone cannot change
        the outcome (its kind's rules are timeless, and flapping needs a full offline_at)."""
        if device in self._timeless and h.online and len(h.offline_at) < health.FLAP_LIMIT:
            self._steady.add(device)
        else:
            self._steady.discard(device)

    def _note(self, device: str, t: Transition | None) -> None:
        if t is None:
            return
        # Every device's first "ok" at start is news to no one: it would bury the demo's banner.
        first, _ = device not in self._noted, self._noted.add(device)
        level = logging.WARNING if t.health != "ok" else logging.DEBUG if first else logging.INFO
        log.log(level, "device %s is %s%s", device, t.health, f": {t.detail}" if t.detail else "")
        self._pending.append((device, t.ts_ns, t.health, t.detail))

    def after_batch(self, now_ns: int) -> None:
        self.flush()

    def flush(self) -> None:
        """Keep this batch's transitions in the state database (one transaction)."""
        rows, self._pending = self._pending, []
        if rows and self.journal is not None:
            try:
                self.journal.add_transitions(rows)
            except Unwritable:
                # Kept for the next flush (every second): the state database is down, not this
                # batch. Bounded: a long outage keeps the newest transitions.
                self._pending = (rows + self._pending)[-PENDING_MAX:]
                raise

    def state(self) -> dict[str, Any]:
        return {"last_seen_ns": {d: h.last_seen_ns for d, h in self.devices.items() if h.last_seen_ns}}

    def restore(self, state: dict[str, Any]) -> None:
        for device, seen in state.get("last_seen_ns", {}).items():
            h = self.devices.get(device)
            if h is not None and seen:
                h.last_seen_ns = max(h.last_seen_ns or 0, seen)
