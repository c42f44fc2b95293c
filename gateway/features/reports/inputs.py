"""What a scope's figures (the whole hall, a window, a member of staff, a department, a zone) are
computed from, and what a figure is: shared by the figures' modules (figures.py, figures_site.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.occupancy import Bucket
from gateway.domain.rated_visits import VisitRates
from gateway.domain.ratings import Rating
from gateway.domain.workorders import WorkOrder
from gateway.features.reports.model import Cell, Format, Missing
from gateway.kinds.reads import DailyRecord, PostDay

NO_QUEUE = Missing(code="no_source", reason="本厅没有排队叫号系统")
NO_PADS = Missing(code="no_source", reason="本厅没有评价器")
NO_CLOCK = Missing(code="no_source", reason="本厅没有考勤机")
NO_DATA = Missing(code="no_data", reason="这一期间没有数据")  # said of any period: this, the last, last year
NOT_RECORDED = Missing(code="not_recorded", reason="回访满意度未记录：本期回访均未记录市民满意度")
NOT_COMBINED = Missing(code="not_combined", reason="按科室不统计时长（各人的中位数不能合成科室的中位数）")


@dataclass(frozen=True, slots=True)
class LockerItem:
    """An item of a pickup locker (gateway/store/repos/pickup.py), as the report counts it."""

    locker: str
    deposited_ns: int
    expires_ns: int
    closed_ns: int | None  # collected
    state: str


@dataclass(frozen=True, slots=True)
class DeviceSpan:
    """A device over the period: how long it was watched and online, and its incidents."""

    device: str
    kind: str  # the kind's Chinese label
    zone: str
    observed_s: float  # from the period's start (or its first health record) to the period's end (or now)
    online_s: float  # of which its health was ok or degraded
    incidents: tuple[tuple[int, int | None], ...]  # (opened_ns, ended_ns or None) of its incident alerts


@dataclass
class Inputs:
    """What one scope's figures are computed from; None: the hall has no such source."""

    calls: dict[str, Any] | None = None  # the queue summary's figures of the scope ({}: no visits)
    rated_visits: VisitRates | None = None  # the served visits and how many were rated (None: no queue)
    ratings: list[Rating] | None = None
    orders: list[WorkOrder] | None = None
    clocking: list[DailyRecord] | None = None  # the days' records, one per person and day (考勤)
    working_days: frozenset[str] = frozenset()  # ISO dates of the period's working days
    violations: list[dict[str, Any]] | None = None
    posts: list[PostDay] | None = None  # the window posts' days (None: no clock-in machine)
    visitors: list[Bucket] | None = None  # the scope's zone minutes (None: no people counter)
    devices: list[DeviceSpan] | None = None
    lockers: list[LockerItem] | None = None  # None: no pickup locker
    start_ns: int = 0  # the period's start
    end_ns: int = 0  # the period's end (or now, if sooner): what "overdue" is judged at
    days: int = 0  # the period's days up to end_ns (a day begun counts)
    timezone: str = "Asia/Shanghai"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    unit: str
    format: Format
    formula: str
    compute: Callable[[Inputs], Cell]


def ratio(num: int, den: int) -> Cell:
    return round(num / den, 4) if den else NO_DATA
