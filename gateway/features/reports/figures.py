"""The report's figures, each defined once: its name, Chinese label, unit, format, the formula as
the hall would say it, and the code that computes it from a scope's inputs (the whole hall, one
window, one member of staff). Where a figure's source does not exist in the hall (no queue
system, no rating pads...), it is a `Missing` with the reason, never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from gateway.domain.discipline import counts
from gateway.domain.ratings import BAD, GOOD, Rating
from gateway.domain.workorders import WorkOrder
from gateway.features.reports.figures_site import SITE_FIGURES
from gateway.features.reports.inputs import (
    NO_CLOCK,
    NO_DATA,
    NO_PADS,
    NO_QUEUE,
    NOT_COMBINED,
    NOT_RECORDED,
    Figure,
    Inputs,
    ratio,
)
from gateway.features.reports.model import Cell, Missing


def _q(key: str) -> Callable[[Inputs], Cell]:
    def compute(i: Inputs) -> Cell:
        return NO_QUEUE if i.calls is None else i.calls.get(key, 0)

    return compute


def _minutes(part: str, stat: str) -> Callable[[Inputs], Cell]:
    def compute(i: Inputs) -> Cell:
        if i.calls is None:
            return NO_QUEUE
        if i.calls.get("spreads") is False:
            return NOT_COMBINED
        s = (i.calls.get(part) or {}).get(stat)
        return NO_DATA if s is None else round(s / 60, 2)

    return compute


def _rated(i: Inputs) -> list[Rating]:
    return [r for r in i.ratings or () if r.rated]


def rating_rate(i: Inputs) -> Cell:
    if i.ratings is None:
        return NO_PADS
    if i.rated_visits is None:
        return Missing(code="no_source", reason="本厅没有排队叫号系统：办结件数无从得知")
    return ratio(i.rated_visits.rated, i.rated_visits.served)


def good_rate(i: Inputs) -> Cell:
    if i.ratings is None:
        return NO_PADS
    rated = _rated(i)
    return ratio(sum(r.score in GOOD for r in rated), len(rated))


def mean_score(i: Inputs) -> Cell:
    if i.ratings is None:
        return NO_PADS
    rated = _rated(i)
    return round(sum(r.score or 0 for r in rated) / len(rated), 3) if rated else NO_DATA


def _count(source: str, missing: Missing, pick: Callable[[Any], bool]) -> Callable[[Inputs], Cell]:
    def compute(i: Inputs) -> Cell:
        items = getattr(i, source)
        return missing if items is None else sum(1 for x in items if pick(x))

    return compute


def closed_in_time(o: WorkOrder) -> bool:
    # `updated_ns` is the order's last step: for a rectified or closed order, when it was done
    return o.state in ("rectified", "closed") and o.updated_ns <= o.deadline_ns


def rectification_rate(i: Inputs) -> Cell:
    if i.orders is None:
        return NO_PADS
    return ratio(sum(o.state in ("rectified", "closed") for o in i.orders), len(i.orders))


def overdue(i: Inputs) -> Cell:
    return NO_PADS if i.orders is None else sum(o.overdue(i.end_ns) for o in i.orders)


def satisfaction(i: Inputs) -> Cell:
    if i.orders is None:
        return NO_PADS
    said = [o.satisfaction for o in i.orders if o.satisfaction is not None]
    if not said:
        return NOT_RECORDED if any(o.state != "open" for o in i.orders) else NO_DATA
    return ratio(sum(s == "satisfied" for s in said), len(said))


def absent(i: Inputs) -> Cell:
    if i.clocking is None:
        return NO_CLOCK
    return sum(1 for d in i.clocking if d.punches == 0)


FIGURES: tuple[Figure, ...] = (
    # -- queue (排队叫号) --
    Figure("calls.tickets", "取号数", "张", "int", "本期取号（含预约）的票数；转窗不另计", _q("issued")),
    Figure("calls.served", "办结数", "件", "int", "叫号后办理完结（结果为办结、补正、退件等）的票数", _q("served")),
    Figure("calls.no_shows", "过号数", "张", "int", "叫号未到、过号作废的票数", _q("no_shows")),
    Figure("calls.transfers", "转窗数", "张", "int", "转到其他队列的票数", _q("transfers")),
    Figure(
        "calls.waiting_mean",
        "平均等候时长",
        "分钟",
        "minutes",
        "Σ(叫号时刻−取号时刻) ÷ 被叫号票数",
        _minutes("waiting", "mean_s"),
    ),
    Figure(
        "calls.waiting_median",
        "等候时长中位数",
        "分钟",
        "minutes",
        "等候时长排序后的中位数",
        _minutes("waiting", "median_s"),
    ),
    Figure(
        "calls.waiting_p90", "等候时长P90", "分钟", "minutes", "90% 的票等候不超过此时长", _minutes("waiting", "p90_s")
    ),
    Figure(
        "calls.handling_mean",
        "平均办理时长",
        "分钟",
        "minutes",
        "Σ(办结时刻−开始办理时刻) ÷ 办结票数",
        _minutes("handling", "mean_s"),
    ),
    Figure(
        "calls.handling_median",
        "办理时长中位数",
        "分钟",
        "minutes",
        "办理时长排序后的中位数",
        _minutes("handling", "median_s"),
    ),
    Figure(
        "calls.handling_p90",
        "办理时长P90",
        "分钟",
        "minutes",
        "90% 的件办理不超过此时长",
        _minutes("handling", "p90_s"),
    ),
    # -- ratings (好差评) --
    Figure("ratings.rated", "评价数", "次", "int", "给出分数的评价次数", _count("ratings", NO_PADS, lambda r: r.rated)),
    Figure(
        "ratings.rating_rate",
        "评价率",
        "%",
        "percent",
        "被评价的办结件数 ÷ 办结件数（评价按办件号或窗口与票号对应到办件）",
        rating_rate,
    ),
    Figure("ratings.good_rate", "好评率", "%", "percent", "4、5 分的评价数 ÷ 评价数", good_rate),
    Figure(
        "ratings.bad",
        "差评数",
        "次",
        "int",
        "1、2 分的评价数",
        _count("ratings", NO_PADS, lambda r: r.rated and r.score in BAD),
    ),
    Figure("ratings.mean", "平均分", "分", "dec1", "分数之和 ÷ 评价数", mean_score),
    # -- 差评 work orders (差评整改) --
    Figure(
        "orders.opened",
        "差评工单数",
        "件",
        "int",
        "本期差评生成的整改工单数",
        _count("orders", NO_PADS, lambda o: True),
    ),
    Figure(
        "orders.closed_in_time",
        "按期整改数",
        "件",
        "int",
        "整改或办结且不晚于期限（15 个工作日）的工单数",
        _count("orders", NO_PADS, closed_in_time),
    ),
    Figure("orders.overdue", "逾期工单数", "件", "int", "到期末仍未整改且已过期限的工单数", overdue),
    Figure(
        "orders.rectification_rate", "整改率", "%", "percent", "已整改或办结的工单数 ÷ 差评工单数", rectification_rate
    ),
    Figure(
        "orders.satisfaction",
        "回访满意度",
        "%",
        "percent",
        "回访时市民表示满意的工单数 ÷ 回访并记录了满意度的工单数",
        satisfaction,
    ),
    # -- clocking in (考勤) --
    Figure(
        "clocking.punches",
        "打卡次数",
        "次",
        "int",
        "本期有效打卡次数",
        lambda i: NO_CLOCK if i.clocking is None else sum(d.punches for d in i.clocking),
    ),
    Figure(
        "clocking.late",
        "迟到人次",
        "人次",
        "int",
        "工作日首次签到晚于上班时间（含宽限）的人次",
        _count("clocking", NO_CLOCK, lambda d: d.late),
    ),
    Figure("clocking.absent", "缺勤人次", "人次", "int", "工作日应到（窗口岗位人员）而全天无打卡的人次", absent),
    # -- discipline (纪律) --
    Figure(
        "discipline.confirmed",
        "确认违规数",
        "起",
        "int",
        "本期发生且已确认（申诉中、申诉维持的也算）的违规数",
        _count(
            "violations", Missing(code="no_source", reason="无违规台账"), lambda v: counts(v["state"], v.get("outcome"))
        ),
    ),
)

FIGURES += SITE_FIGURES
BY_NAME = {f.name: f for f in FIGURES}
# the figures a window's (a person's) row shows
WINDOW_FIGURES = (
    "calls.tickets",
    "calls.served",
    "calls.waiting_mean",
    "calls.handling_mean",
    "ratings.rated",
    "ratings.rating_rate",
    "ratings.good_rate",
    "ratings.bad",
    "orders.opened",
    "orders.overdue",
    "discipline.confirmed",
)

POST_FIGURES = ("calls.walk_in", "calls.appointments", "posts.open_hours", "posts.empty_minutes", "posts.substitutions")
ZONE_FIGURES = (
    "visitors.entries",
    "visitors.daily_entries",
    "visitors.peak",
    "visitors.peak_hour",
    "devices.availability",
    "devices.incidents",
)
DEVICE_FIGURES = ("devices.availability", "devices.incidents", "devices.mttr")
TREND_FIGURES = ("calls.tickets", "calls.served", "ratings.rated", "visitors.entries", "posts.open_hours")


def scores(i: Inputs) -> dict[int, int] | None:
    """The score distribution (1-5) of the rated visits; None: no pads."""
    if i.ratings is None:
        return None
    c = Counter(r.score for r in _rated(i))
    return {s: c.get(s, 0) for s in (1, 2, 3, 4, 5)}


def bad_reasons(i: Inputs) -> Counter[str] | None:
    if i.ratings is None:
        return None
    return Counter(x for r in _rated(i) if r.score in BAD for x in r.reasons)


def violations_by_kind(i: Inputs) -> Counter[str] | None:
    if i.violations is None:
        return None
    return Counter(v["kind"] for v in i.violations if counts(v["state"], v.get("outcome")))
