"""The report's figures of the hall as a place, each defined once with its formula: the window
posts (开放量, 空岗, AB 顶岗), the visitors (people counters), the devices (availability, incidents,
MTTR), the pickup lockers, and the queue's walk-in, appointment and case results. The same
`Figure` as gateway/features/reports/figures.py; a source the hall lacks is a `Missing`, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.features.reports.inputs import NO_DATA, NO_QUEUE, Figure, Inputs, LockerItem
from gateway.features.reports.model import Cell, Missing

NO_POSTS_SOURCE = Missing(code="no_source", reason="本厅没有考勤机：窗口在岗无从得知")
NO_POSTS = Missing(code="no_source", reason="本厅未配置窗口岗位（posts）")
NO_COUNTER = Missing(code="no_source", reason="本厅没有客流计数器")
NO_LOCKER = Missing(code="no_source", reason="本厅没有取件柜")
NO_DEVICES = Missing(code="no_source", reason="本厅没有设备")
NOT_PER_SCOPE = Missing(code="not_combined", reason="按此范围不统计")
# a finished case's results, as the queue system sends them (device-protocols.md, `finished`)
RESULT_LABELS = {"done": "办结", "pending_materials": "补正", "rejected": "退件"}
# the alerts that are a device's incident: it went offline, or a lock jammed
INCIDENT_RULES = ("device_offline", "jammed_lock")


def _posts(compute: Callable[[Inputs], Cell]) -> Callable[[Inputs], Cell]:
    def guarded(i: Inputs) -> Cell:
        if i.posts is None:
            return NO_POSTS_SOURCE
        if not i.posts:
            return NO_POSTS
        return compute(i)

    return guarded


@_posts
def open_hours(i: Inputs) -> Cell:
    return round(sum(p.open_s for p in i.posts or ()) / 3600, 2)


@_posts
def empty_minutes(i: Inputs) -> Cell:
    return round(sum(p.empty_s for p in i.posts or ()) / 60, 2)


@_posts
def substitutions(i: Inputs) -> Cell:
    return sum(1 for p in i.posts or () if p.covered_s > 0)


@_posts
def covered_hours(i: Inputs) -> Cell:
    return round(sum(p.covered_s for p in i.posts or ()) / 3600, 2)


def _calls(compute: Callable[[dict], Cell]) -> Callable[[Inputs], Cell]:  # type: ignore[type-arg]
    return lambda i: NO_QUEUE if i.calls is None else compute(i.calls)


def _result(result: str) -> Callable[[Inputs], Cell]:
    def compute(i: Inputs) -> Cell:
        if i.calls is None:
            return NO_QUEUE
        results = i.calls.get("results")
        return NOT_PER_SCOPE if results is None else results.get(result, 0)

    return compute


def _visitors(compute: Callable[[Inputs], Cell]) -> Callable[[Inputs], Cell]:
    return lambda i: NO_COUNTER if i.visitors is None else compute(i)


def entries(i: Inputs) -> int:
    return sum(b.entered for b in i.visitors or ())


def daily_entries(i: Inputs) -> Cell:
    return round(entries(i) / i.days, 1) if i.days else NO_DATA


def _peak(i: Inputs) -> tuple[int, int] | None:
    """(occupancy, minute) of the first minute whose end had the most people in."""
    best = None
    for b in i.visitors or ():
        if best is None or b.occupancy > best[0]:
            best = (b.occupancy, b.start_ns)
    return best


def peak(i: Inputs) -> Cell:
    p = _peak(i)
    return NO_DATA if p is None else p[0]


def peak_hour(i: Inputs) -> Cell:
    p = _peak(i)
    if p is None:
        return NO_DATA
    return datetime.fromtimestamp(p[1] / 1e9, ZoneInfo(i.timezone)).strftime("%Y-%m-%d %H时")


def _devices(compute: Callable[[Inputs], Cell]) -> Callable[[Inputs], Cell]:
    return lambda i: NO_DEVICES if not i.devices else compute(i)


def availability(i: Inputs) -> Cell:
    seen = sum(d.observed_s for d in i.devices or ())
    return round(sum(d.online_s for d in i.devices or ()) / seen, 4) if seen else NO_DATA


def incidents(i: Inputs) -> Cell:
    return sum(len(d.incidents) for d in i.devices or ())


def mttr(i: Inputs) -> Cell:
    spans = [(end - start) for d in i.devices or () for start, end in d.incidents if end is not None]
    return round(sum(spans) / len(spans) / 60e9, 2) if spans else NO_DATA


def _lockers(compute: Callable[[list[LockerItem], Inputs], Cell]) -> Callable[[Inputs], Cell]:
    return lambda i: NO_LOCKER if i.lockers is None else compute(i.lockers, i)


def _picked(items: list[LockerItem], i: Inputs) -> list[LockerItem]:
    return [x for x in items if x.closed_ns is not None and i.start_ns <= x.closed_ns < i.end_ns]


def pickup_hours(items: list[LockerItem], i: Inputs) -> Cell:
    picked = _picked(items, i)
    return round(sum(x.closed_ns - x.deposited_ns for x in picked) / len(picked) / 3600e9, 2) if picked else NO_DATA  # type: ignore[operator]


def overdue_items(items: list[LockerItem], i: Inputs) -> int:
    # its expiry fell in the period, and it was still in the locker then
    return sum(
        1
        for x in items
        if i.start_ns <= x.expires_ns < i.end_ns and (x.closed_ns is None or x.closed_ns > x.expires_ns)
    )


SITE_FIGURES: tuple[Figure, ...] = (
    # -- the queue's tickets by source and its cases by result --
    Figure(
        "calls.walk_in",
        "现场取号数",
        "张",
        "int",
        "取号数 − 预约取号数",
        _calls(lambda c: c.get("issued", 0) - c.get("appointments", 0)),
    ),
    Figure(
        "calls.appointments",
        "预约取号数",
        "张",
        "int",
        "来源为预约（appointment）的取号数",
        _calls(lambda c: c.get("appointments", 0)),
    ),
    *(
        Figure(
            f"calls.cases_{r}",
            f"办件量（{RESULT_LABELS[r]}）",
            "件",
            "int",
            f"叫号办理后结果为{RESULT_LABELS[r]}（{r}）的件数",
            _result(r),
        )
        for r in RESULT_LABELS
    ),
    # -- window posts (窗口开放) --
    Figure("posts.open_hours", "开放量", "小时", "dec1", "Σ 工作时间内 A 岗或 B 岗在岗的时长（午休除外）", open_hours),
    Figure(
        "posts.empty_minutes",
        "空岗时长",
        "分钟",
        "minutes",
        "Σ 工作时间内 A、B 岗均不在岗的时长 = 工作时长 − 开放量",
        empty_minutes,
    ),
    Figure("posts.substitutions", "AB顶岗次数", "次", "int", "B 岗在 A 岗不在时在岗的岗位日数", substitutions),
    Figure(
        "posts.covered_hours", "AB顶岗时长", "小时", "dec1", "Σ 工作时间内 B 岗在岗而 A 岗不在的时长", covered_hours
    ),
    # -- visitors (客流) --
    Figure("visitors.entries", "进厅人次", "人次", "int", "客流计数器每分钟进入人数之和", _visitors(entries)),
    Figure(
        "visitors.daily_entries",
        "日均进厅人次",
        "人次",
        "dec1",
        "进厅人次 ÷ 本期（至今）天数",
        _visitors(daily_entries),
    ),
    Figure("visitors.peak", "最高在厅人数", "人", "int", "各分钟末在厅人数的最大值", _visitors(peak)),
    Figure("visitors.peak_hour", "高峰时段", "", "text", "在厅人数最高的（首个）分钟所在的小时", _visitors(peak_hour)),
    # -- devices (设备) --
    Figure(
        "devices.availability",
        "设备在线率",
        "%",
        "percent",
        "Σ 在线（正常或降级）时长 ÷ Σ 观测时长（自设备首次记录起）",
        _devices(availability),
    ),
    Figure("devices.incidents", "设备故障数", "起", "int", "本期打开的离线、锁卡住告警数", _devices(incidents)),
    Figure(
        "devices.mttr", "平均修复时长", "分钟", "minutes", "Σ(告警恢复时刻 − 打开时刻) ÷ 已恢复的故障数", _devices(mttr)
    ),
    # -- pickup lockers (取件柜) --
    Figure(
        "lockers.deposits",
        "存件数",
        "件",
        "int",
        "本期存入取件柜的件数",
        _lockers(lambda xs, i: sum(i.start_ns <= x.deposited_ns < i.end_ns for x in xs)),
    ),
    Figure("lockers.pickups", "取件数", "件", "int", "本期被取走的件数", _lockers(lambda xs, i: len(_picked(xs, i)))),
    Figure(
        "lockers.pickup_hours",
        "平均取件时长",
        "小时",
        "dec1",
        "Σ(取件时刻 − 存件时刻) ÷ 本期取件数",
        _lockers(pickup_hours),
    ),
    Figure(
        "lockers.overdue", "逾期件数", "件", "int", "到期时刻在本期内且到期时仍未取走的件数", _lockers(overdue_items)
    ),
)
