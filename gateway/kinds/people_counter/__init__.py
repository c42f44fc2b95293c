"""Foot-traffic counter (客流计数器): cumulative IN/OUT counts at a doorway; feeds zone occupancy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from gateway.domain.canonical import READING, Event, Priority
from gateway.domain.conditions import Condition
from gateway.domain.health import Problem
from gateway.domain.occupancy import (
    HALL,
    WRAP,
    Bucket,
    Doorway,
    Occupancy,
    Reset,
    Sample,
    ZoneCount,
    reset_due,
)
from gateway.kinds.base import DeviceView, Kind, Param, Record
from gateway.kinds.people_counter import words
from gateway.kinds.people_counter.metrics import metrics
from gateway.kinds.people_counter.pages import PAGES
from gateway.kinds.people_counter.settings import SETTINGS, OccupancyContext, zone_reset_at
from gateway.kinds.reads import Zones
from gateway.store.points import make_line

MEASUREMENT = "occupancy"
RESET_MEASUREMENT = "occupancy_reset"


def sensor_problems(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    sensor = info.get("sensor")
    return [] if sensor in (None, "ok", 0) else [Problem("sensor_fault", f"sensor: {sensor}", params={"fault": sensor})]


def _wrap(d: DeviceView) -> int:
    """Where the counter's IN count wraps: its width, as its profile says."""
    return d.plan.wraps.get("in_total", WRAP) if d.plan is not None else WRAP


def bucket_line(site: str, b: Bucket) -> str:
    """One zone's minute as a point. Its timestamp is the minute's start, taken from the samples'
    own times, so writing it again (a replay, a redelivery) overwrites the same point."""
    fields = {"in": b.entered, "out": b.left, "occupancy": b.occupancy, "clamped": b.clamped}
    return make_line(MEASUREMENT, {"site": site, "zone": b.zone}, fields, b.start_ns)


def reset_line(site: str, r: Reset) -> str:
    fields = {"residual": r.residual, "clamped": r.clamped}
    return make_line(RESET_MEASUREMENT, {"site": site, "zone": r.zone}, fields, r.at_ns)


class OccupancyProjection:
    """Zone and hall occupancy from the hall's counters.

    Its state (each zone's figures, drift and open minute, each counter's last sample) is saved
    in the state database, so a restart carries on from the last saved baseline. It derives one
    `occupancy` point per zone per minute (written when the minute is over, i.e. with the first
    sample of the next one), and an `occupancy_reset` point per nightly reset. Finished minutes
    also wait in `history_pending` for the gateway's own history table (running.py saves them).

    Counter health comes from the readings themselves: the sensor's status register, and how
    long ago the counter's newest sample was taken (a counter that stops answering sends nothing
    here, so silence longer than `stale_after_s` is its offline signal).
    """

    name = "occupancy"

    def __init__(self, cfg: OccupancyContext, devices: Mapping[str, DeviceView]) -> None:
        self.site = cfg.site
        self.tz = cfg.timezone
        o = cfg.occupancy
        self.settings = o
        self.names = {z.id: z.name for z in cfg.zones}
        self.reset_at = {z.id: zone_reset_at(o, z) for z in cfg.zones}
        self.reset_at[HALL] = o.reset_at
        hall_capacity = o.hall_capacity or sum(z.capacity for z in cfg.zones) or 1
        counters = [d for d in devices.values() if d.kind == KIND.name and d.config.zone]
        self.occupancy = Occupancy(
            zones={z.id: ZoneCount(z.id, z.capacity) for z in cfg.zones},
            doorways={
                # Silence longer than a few poll periods (and never under stale_after_s) is suspect.
                d.id: Doorway(
                    d.config.zone,
                    d.config.from_zone,
                    wrap=_wrap(d),
                    stale_ns=int(max(o.stale_after_s, 3 * d.config.poll_interval_s) * 1e9),
                )
                for d in counters
            },
            hall=ZoneCount(HALL, hall_capacity),
        )
        self.history_pending: list[Bucket] = []
        self._resets: list[Record] = []
        self.version = 0  # grows with every change a live view could show
        self.listeners: list[Callable[[], None]] = []
        self._suspect: dict[str, list[str]] = {}
        self._reset_checked_ns = -(10**18)
        # Zones whose nightly reset also resets their counters' registers -> those counters.
        self.resets_counters = {
            z.id: [d.id for d in counters if d.config.zone == z.id] for z in cfg.zones if z.reset_counters
        }
        # (counter, zone, reset instant) waiting for their register write (gateway/kinds/people_counter/resets.py)
        self.counter_resets: list[tuple[str, str, int]] = []
        self.on_counter_reset: list[Callable[[], None]] = []

    # -- events --------------------------------------------------------------------------------

    def apply(self, event: Event, now_ns: int) -> list[Record] | None:
        if event.name != READING or event.device not in self.occupancy.doorways:
            return None
        f = event.fields
        door = self.occupancy.doorways[event.device]
        status = str(f.get("sensor", "ok"))
        changed = status != door.status or door.last_ns is None
        door.status = status
        self.check_resets(now_ns)
        if "in_total" in f and "out_total" in f:
            d_in, d_out = self.occupancy.sample(
                event.device, Sample(f["in_total"], f["out_total"], f.get("uptime_s")), event.ts_ns
            )
        else:  # a totals register read "no reading" (the profile's absent): no sample this poll
            d_in = d_out = 0
        out, self._resets = self._resets, []
        closed = self.occupancy.take_closed()
        if closed:
            self.history_pending += closed
            out += [(Priority.TELEMETRY, bucket_line(self.site, b)) for b in closed]
        if changed or d_in or d_out:
            o, occ = self.settings, self.occupancy
            # The over-capacity flag moves with the figures: of the two zones this doorway joins.
            for z in (occ.zones[door.zone], occ.hall if door.from_zone is None else occ.zones[door.from_zone]):
                z.check_capacity(o.over_capacity_pct, o.clear_pct)
            self._changed()
        return out or None

    def check_resets(self, now_ns: int) -> None:
        """Reset every zone whose nightly reset is due (their records go out with the next apply).

        At most once a second: it runs for every reading, and a reset a second late is on time."""
        if 0 <= now_ns - self._reset_checked_ns < 10**9:
            return
        self._reset_checked_ns = now_ns
        for z in self.occupancy.all_zones():
            due = reset_due(z, now_ns, self.reset_at.get(z.zone), self.tz)
            if due is not None:
                self._resets.append((Priority.TELEMETRY, reset_line(self.site, z.reset(due))))
                self._changed()
                if self.resets_counters.get(z.zone):
                    self.counter_resets += [(c, z.zone, due) for c in self.resets_counters[z.zone]]
                    for fn in self.on_counter_reset:
                        fn()

    def _changed(self) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()

    # -- what holds now ------------------------------------------------------------------------

    def suspect(self, zone: str, now_ns: int) -> list[str]:
        return self.occupancy.suspect(zone, now_ns)

    def conditions(self, now_ns: int) -> list[Condition]:
        # Called every second by the alert lifecycle: also the clock of the nightly reset.
        self.check_resets(now_ns)
        o = self.settings
        out = []
        suspects = self.occupancy.suspects(now_ns)  # one pass over the counters, not one per zone
        for z in self.occupancy.all_zones():
            label = "the hall" if z.zone == HALL else f"zone {self.names.get(z.zone) or z.zone}"
            where = "全厅" if z.zone == HALL else f"区域 {self.names.get(z.zone) or z.zone}"
            was = z.over
            if z.check_capacity(o.over_capacity_pct, o.clear_pct):
                out.append(
                    Condition(
                        "zone_over_capacity",
                        z.zone,
                        "warning",
                        f"{label} over capacity: {z.occupancy} of {z.capacity}",
                        params={"zone": where, "occupancy": z.occupancy, "capacity": z.capacity},
                    )
                )
            if was != z.over:
                self._changed()
            why = suspects.get(z.zone, [])
            if why != self._suspect.get(z.zone, []):
                self._suspect[z.zone] = why
                self._changed()
            if why:
                text = f"{label}: counts suspect ({'; '.join(why)})"
                said = {"zone": where, "why": "；".join(why)}
                out.append(Condition("occupancy_suspect", z.zone, "warning", text, params=said))
        return out

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "zones": {z.zone: _zone_state(z) for z in self.occupancy.all_zones()},
            "doorways": {  # by hand, not asdict: a thousand counters every five seconds
                name: {
                    "last": {"in_total": d.last.in_total, "out_total": d.last.out_total, "uptime_s": d.last.uptime_s},
                    "status": d.status,
                    "last_ns": d.last_ns,
                }
                for name, d in self.occupancy.doorways.items()
                if d.last
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        occ = self.occupancy
        zones = {**occ.zones, HALL: occ.hall}
        for zone_id, z in state.get("zones", {}).items():
            zone = zones.get(zone_id)
            if zone is None:  # a zone removed from the configuration is forgotten
                continue
            for key in ("occupancy", "entered", "left", "clamped", "updated_ns", "reset_ns", "residual"):
                if key in z:
                    setattr(zone, key, z[key])
            zone.residual_clamped = z.get("residual_clamped")
            zone.over = bool(z.get("over", False))
            if z.get("bucket"):
                zone.bucket = Bucket(**z["bucket"])
                occ.minute_ns = max(occ.minute_ns, zone.bucket.start_ns)
        for name, last in state.get("doorways", {}).items():
            door = occ.doorways.get(name)
            if door is None:
                continue
            if "last" in last:  # this version: with the sensor status and the sample time
                door.last, door.status, door.last_ns = Sample(**last["last"]), last["status"], last["last_ns"]
            else:  # saved by the previous version: the sample alone
                door.last = Sample(**last)

    def open_buckets(self) -> list[Bucket]:
        """The minutes still filling, for a history that includes now."""
        return [z.bucket for z in self.occupancy.all_zones() if z.bucket is not None]

    def take_history(self) -> list[Bucket]:
        out, self.history_pending = self.history_pending, []
        return out


def _zone_state(z: ZoneCount) -> dict[str, Any]:
    d = asdict(z)
    d.pop("capacity")
    return d


KIND = Kind(
    name="people_counter",
    description="foot-traffic counter (客流计数器)",
    label="客流计数器",
    params=frozenset({"zone", "from_zone"}),
    device_params={"from_zone": Param(str)},  # between two zones: where IN comes from
    required_params=frozenset({"zone"}),
    signals={READING: frozenset({"in_total", "out_total"})},
    info=frozenset({"sensor", "fw_version", "uptime_s"}),
    rules=(sensor_problems,),
    projections=(OccupancyProjection,),
    settings=SETTINGS,
    metrics=metrics,
    router="gateway.kinds.people_counter.api:router",
    provides={Zones: OccupancyProjection},
    runs="gateway.kinds.people_counter.running:run",
    labels=words.LABELS,
    pages=PAGES,
    page_words=words.PAGE_WORDS,
    summaries=words.SUMMARIES,
)
