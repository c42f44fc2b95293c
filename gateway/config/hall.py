"""The hall configuration as a whole (one YAML file): the hall-wide parts (time zone, working
hours, zones, window posts), the gateway's sections, and the sections the kinds bring (each kind
declares its own in its package: `Kind.settings`), composed into one pydantic model."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, create_model, field_validator, model_validator

from gateway.config.alerts import Alerts, Commands, Health
from gateway.config.api import Api
from gateway.config.base import Model, clock_time
from gateway.config.broker import Broker, Ingest
from gateway.config.devices import Device
from gateway.config.discipline import Discipline
from gateway.config.district import District
from gateway.config.reports import Reports
from gateway.config.store import Influx, Store
from gateway.kinds.base import Settings
from gateway.kinds.registry import KINDS


def known_zone(v: str) -> str:
    """An IANA time zone name, checked (the hall's and the district's `timezone`)."""
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"未知时区 {v!r}：请用 IANA 名称，如 Asia/Shanghai") from None
    return v


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
            raise ValueError("reset_counters：该区域从不清零（reset_at: never），两者请删去其一")
        return self


class WorkingHours(Model):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="the working weekdays, e.g. [mon, tue, wed, thu, fri]; [] for a hall never staffed",
    )
    start: time = time(9, 0)
    end: time = time(17, 0)
    # An unquoted 17:00 is YAML's number 1020, which pydantic would take as 00:17:00.
    _clock = field_validator("start", "end", mode="before")(clock_time)
    holidays: list[date] = Field([], description="public holidays: no work even on a working weekday")
    workdays: list[date] = Field([], description="extra working days (调休), e.g. a Saturday worked for a holiday")

    @model_validator(mode="after")
    def _one_or_other(self) -> WorkingHours:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(
                f"{'、'.join(d.isoformat() for d in both)} 既是节假日又是调休上班日："
                "请从 working_hours.holidays 或 working_hours.workdays 中删去其一"
            )
        if self.end <= self.start:
            raise ValueError(f"结束 {self.end} 不晚于开始 {self.start}：工作时间须在同一天内")
        return self


class Post(Model):
    """A window post (AB岗): A is its staff member, B covers for A."""

    window: str = Field(min_length=1)
    a: str = Field(min_length=1, description="the A post's staff id")
    b: str | None = Field(None, description="the B post (cover) staff id")


class PhoneSlot(Model):
    device: str = Field(min_length=1)
    slot: int = Field(ge=1)


class Person(Model):
    """A member of staff as the screens name them (the staff registry): the devices send the id."""

    id: str = Field(min_length=1, description="the staff id as the devices send it")
    name: str = Field(min_length=1, max_length=32)
    department: str = ""
    window: str | None = None
    post: Literal["A", "B"] | None = Field(None, description="A or B post of their window; default from posts[]")
    phone: PhoneSlot | None = Field(None, description="their phone's slot; default from phones.lockboxes")


class Hall(Model):
    """The hall-wide parts and sections; the hall configuration adds every kind's own section."""

    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = ""
    timezone: str = "Asia/Shanghai"
    working_hours: WorkingHours = WorkingHours()
    zones: list[Zone] = Field(default_factory=list)
    api: Api = Api()
    broker: Broker = Broker()
    ingest: Ingest = Ingest()
    store: Store = Store()
    influx: Influx = Influx()
    district: District = District()
    health: Health = Health()
    alerts: Alerts = Alerts()
    posts: list[Post] = Field(default_factory=list)
    staff: list[Person] = Field(default_factory=list)
    discipline: Discipline = Discipline()
    commands: Commands = Commands()
    district: District = District()
    reports: Reports = Reports()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_zone(v)

    @field_validator("posts")
    @classmethod
    def _one_post_per_window(cls, v: list[Post]) -> list[Post]:
        windows = [p.window for p in v]
        twice = sorted({w for w in windows if windows.count(w) > 1})
        if twice:
            raise ValueError(f"窗口 {'、'.join(twice)} 有多个岗位条目：每个窗口只写一条")
        return v

    @model_validator(mode="after")
    def _kinds_checks(self) -> Hall:
        # What a kind checks across the hall (e.g. its reset times against the working hours).
        for s in sections():
            if s.check is not None and s.key in type(self).model_fields:
                s.check(self)
        return self

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hallgate-{self.site}"


def sections() -> list[Settings]:
    """The registered kinds' own sections of the hall file, in the registry's order."""
    return [k.settings for k in KINDS.values() if k.settings is not None]


def compose() -> type[Hall]:
    """The hall configuration: the hall-wide parts, each kind's section under its key, then
    profile folders and devices (validated last, as they always were)."""
    fields: dict[str, Any] = {s.key: (s.model, s.model()) for s in sections()}
    methods = tuple(s.methods for s in sections() if s.methods is not None)
    return create_model(  # type: ignore[call-overload,no-any-return]
        "HallConfig",
        __base__=(Hall, *methods),
        __module__=__name__,
        __doc__="One hall's configuration file, validated (README, Configuration).",
        **fields,
        profiles_dirs=(list[Path], Field(default_factory=list)),
        devices=(list[Device], Field(default_factory=list)),
    )


# Composed once, from the kinds registered by then (gateway/kinds/registry.py).
HallConfig = compose()
