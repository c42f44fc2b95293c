"""Rectification work orders (整改工单) for 差评. Pure: the clock is passed in.

open -> called_back (回访, a note) -> rectified (what was done) or appealed (申诉: the rating was
mistaken or malicious, with the reason) -> closed. The deadline is the end of the 15th working day
after the rating on the hall's calendar; an order not yet rectified or appealed by then is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.domain.calendar import WorkCalendar

STATES = ("open", "called_back", "rectified", "appealed", "closed")
# action -> (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "callback": (("open",), "called_back"),
    "rectify": (("called_back",), "rectified"),
    "appeal": (("called_back",), "appealed"),
    "close": (("rectified", "appealed"), "closed"),
}
DUE = ("open", "called_back")  # still waiting for what the deadline asks
DEADLINE_WORKING_DAYS = 15
# what the citizen said on the call-back (回访满意度, the reports' 整改满意度): satisfied / not
SATISFACTION = ("satisfied", "dissatisfied")


class TransitionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WorkOrder:
    id: int
    rating_key: str
    case_id: str
    window: str
    staff: str
    item: str
    score: int
    reasons: tuple[str, ...]
    device: str
    rated_ns: int
    opened_ns: int
    deadline_ns: int
    state: str = "open"
    updated_ns: int = 0
    callback_note: str | None = None
    rectification: str | None = None
    appeal_reason: str | None = None
    close_note: str | None = None
    satisfaction: str | None = None  # said on the call-back (SATISFACTION); None: not recorded

    def overdue(self, now_ns: int) -> bool:
        return self.state in DUE and now_ns >= self.deadline_ns


def deadline_ns(rated_ns: int, cal: WorkCalendar, tz: str, days: int = DEADLINE_WORKING_DAYS) -> int:
    """The end (midnight after) of the `days`-th working day after the rating's local date."""
    zone = ZoneInfo(tz)
    rated_day: date = datetime.fromtimestamp(rated_ns / 1e9, zone).date()
    last = cal.add_working_days(rated_day, days)
    return int(datetime.combine(last + timedelta(days=1), time(0), zone).timestamp()) * 10**9


def transition(order: WorkOrder, action: str, text: str, now_ns: int, satisfaction: str | None = None) -> WorkOrder:
    if satisfaction is not None and (action != "callback" or satisfaction not in SATISFACTION):
        raise TransitionError(f"satisfaction ({' or '.join(SATISFACTION)}) is said on the callback only")
    if action not in ACTIONS:
        raise TransitionError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    allowed, to = ACTIONS[action]
    if order.state not in allowed:
        raise TransitionError(f"work order {order.id} is {order.state}: {action} needs it {' or '.join(allowed)}")
    if not text.strip():
        raise TransitionError(f"{action} needs a note saying what was done or why")
    field = {"callback": "callback_note", "rectify": "rectification", "appeal": "appeal_reason", "close": "close_note"}
    said = {"satisfaction": satisfaction} if action == "callback" else {}
    return replace(order, state=to, updated_ns=now_ns, **{field[action]: text}, **said)
