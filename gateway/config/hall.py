"""The hall configuration as a whole (one YAML file): the hall-wide parts (time zone, working
hours, zones, window posts) and every section, validated by pydantic."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from gateway.config.alerts import Alerts, Commands, Health, Webhook
from gateway.config.api import Api
from gateway.config.base import Model, clock_time
from gateway.config.broker import Broker, Ingest
from gateway.config.devices import Device
from gateway.config.store import Influx, Store


class Zone(Model):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = ""
    capacity: int = Field(gt=0)
    # When this zone's figures restart from 0 each night; default: occupancy.reset_at.
    # "never" for a zone open around the clock.
    reset_at: time | Literal["never"] | None = None
    # At that reset, also write the reset register of the counters counting into this zone
    # (their profile's `reset_counts` command, audited like any command). Off: only the
    # gateway's baseline restarts, and the counters' own totals keep growing (and wrap).
    reset_counters: bool = False

    _reset_time = field_validator("reset_at", mode="before")(clock_time)

    @model_validator(mode="after")
    def _counters_reset_with_zone(self) -> Zone:
        if self.reset_counters and self.reset_at == "never":
            raise ValueError("reset_counters: the zone is never reset (reset_at: never): drop one of them")
        return self


class OccupancySettings(Model):
    """Zone occupancy: the nightly reset, over-capacity hysteresis, the gateway's own history."""

    reset_at: time | None = Field(
        time(3, 0), description="local time of the nightly reset, when the hall is closed; null: never"
    )
    hall_capacity: int | None = Field(None, gt=0, description="default: the sum of the zones' capacities")
    over_capacity_pct: float = Field(100.0, gt=0, description="a zone at or above this share of its capacity is over")
    clear_pct: float = Field(90.0, gt=0, description="... and stays over until it is below this share")
    stale_after_s: float = Field(10.0, gt=0, description="a counter silent this long makes its zones' counts suspect")
    history_days: int = Field(14, ge=1, le=400, description="how long the gateway keeps its own per-minute history")

    _reset_time = field_validator("reset_at", mode="before")(clock_time)

    @model_validator(mode="after")
    def _hysteresis(self) -> OccupancySettings:
        if self.clear_pct > self.over_capacity_pct:
            raise ValueError(
                f"clear_pct {self.clear_pct:g} is above over_capacity_pct {self.over_capacity_pct:g}: "
                "an alert must clear below the level that opens it"
            )
        return self


class WorkingHours(Model):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field([], description="public holidays: no work even on a working weekday")
    workdays: list[date] = Field([], description="extra working days (调休), e.g. a Saturday worked for a holiday")

    @model_validator(mode="after")
    def _one_or_other(self) -> WorkingHours:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(
                f"{', '.join(d.isoformat() for d in both)} listed both as holiday and as extra working day: "
                "remove it from one of working_hours.holidays and working_hours.workdays"
            )
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}: working hours lie within one day")
        return self


class Lunch(Model):
    start: time = time(12, 0)
    end: time = time(13, 30)


class Post(Model):
    """A window post (AB岗): A is its staff member, B covers for A."""

    window: str = Field(min_length=1)
    a: str = Field(min_length=1, description="the A post's staff id")
    b: str | None = Field(None, description="the B post (cover) staff id")


class Ratings(Model):
    deadline_working_days: int = Field(15, ge=1, le=120, description="a 差评 work order's deadline")
    window_bad_limit: int = Field(3, ge=1, description="this many 差评 at one window in one day: a window alert")


class Attendance(Model):
    absence_limit_min: float = Field(30, gt=0, description="a post empty this long in working time is 空岗")
    lunch: Lunch | None = Lunch()
    touch_s: float = Field(2.0, ge=0, description="punches of one person this close are one touch")
    late_grace_min: float = Field(0, ge=0, description="a first in this long after start is not yet late")
    past_days: float = Field(31, gt=0, description="a punch dated earlier than this before now: a clock reset")
    future_s: float = Field(86400, gt=0, description="a punch dated later than this after now: a clock reset")


class LockboxStaff(Model):
    """Whose phone goes in which slot of one lockbox (the compliance view and its alert)."""

    device: str = Field(description="a lockbox's device id")
    slots: dict[str, int] = Field(description="staff id (as the attendance machine sends it) -> slot number")


class Phones(Model):
    """Staff who clocked in but whose phone is not in their slot (GET /api/v1/lockboxes/compliance)."""

    lockboxes: list[LockboxStaff] = Field(default_factory=list)
    grace_min: float | None = Field(
        None, gt=0, description="in working time, a phone out of its slot this long after clocking in: an alert"
    )


class Lockers(Model):
    """Pickup lockers: codes, expiry and the wrong-code lockout."""

    code_ttl_h: float = Field(72, gt=0, description="a pickup code expires this long after the deposit")
    lockout_failures: int = Field(5, ge=1, description="wrong codes per locker within lockout_window_s ...")
    lockout_window_s: float = Field(900, gt=0)
    lockout_s: float = Field(900, gt=0, description="... refuse further tries (429) this long")
    qr_prefix: str = Field("HGPICKUP", pattern=r"^[A-Z0-9]{1,16}$", description="first field of the QR payload")
    notify: Webhook | None = Field(
        None, description="a webhook (e.g. the hall's SMS gateway) that gets each code for its applicant, and reminders"
    )
    remind_before_h: float = Field(24, gt=0, description="remind the applicant this long before the code expires")


class HallConfig(Model):
    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = ""
    timezone: str = "Asia/Shanghai"
    working_hours: WorkingHours = WorkingHours()
    zones: list[Zone] = Field(default_factory=list)
    occupancy: OccupancySettings = OccupancySettings()
    api: Api = Api()
    broker: Broker = Broker()
    ingest: Ingest = Ingest()
    store: Store = Store()
    influx: Influx = Influx()
    health: Health = Health()
    alerts: Alerts = Alerts()
    posts: list[Post] = Field(default_factory=list)
    ratings: Ratings = Ratings()
    attendance: Attendance = Attendance()
    commands: Commands = Commands()
    lockers: Lockers = Lockers()
    phones: Phones = Phones()
    profiles_dirs: list[Path] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as Asia/Shanghai") from None
        return v

    @field_validator("posts")
    @classmethod
    def _one_post_per_window(cls, v: list[Post]) -> list[Post]:
        windows = [p.window for p in v]
        twice = sorted({w for w in windows if windows.count(w) > 1})
        if twice:
            raise ValueError(f"window {', '.join(twice)} has more than one post: give each window one entry")
        return v

    @model_validator(mode="after")
    def _resets_when_closed(self) -> HallConfig:
        wh = self.working_hours
        # Only a time someone wrote is checked: the default suits the usual hall, and a hall open
        # around the clock resets when its traffic is lowest.
        written = (
            [("occupancy.reset_at", self.occupancy.reset_at)] if "reset_at" in self.occupancy.model_fields_set else []
        )
        written += [
            (f"zones[{i}] (id {z.id}).reset_at", z.reset_at)
            for i, z in enumerate(self.zones)
            if "reset_at" in z.model_fields_set
        ]
        for where, at in written:
            if isinstance(at, time) and wh.days and wh.start <= at < wh.end:
                raise ValueError(
                    f"{where}: {at:%H:%M} is within working hours {wh.start:%H:%M}-{wh.end:%H:%M}: "
                    "reset when the hall is closed"
                )
        return self

    def zone_reset_at(self, zone: Zone) -> time | None:
        if zone.reset_at == "never":
            return None
        return zone.reset_at if isinstance(zone.reset_at, time) else self.occupancy.reset_at

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hallgate-{self.site}"
