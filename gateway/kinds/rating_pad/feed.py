"""The 差评 work orders on MQTT (`hall/{site}/gateway/workorders`, gateway/feeds.py): each change
(opened, called back, rectified, appealed, closed, gone overdue) and the retained open counts.

A change says the order's id, the event and state codes, its window, the person's department, the
score and reasons, when, and its deadline: never the person (name or staff id) nor the case
number, which the district is not to see. Queued by the store in the change's own transaction
(store.py `told`); an order's going overdue once (`workorders_overdue_told`), at the tick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from gateway.commands.riders import Rider
from gateway.domain.workorders import DUE, WorkOrder
from gateway.feeds import Feed, at, change
from gateway.kinds.rating_pad import RatingsProjection
from gateway.kinds.rating_pad.store import RatingStore, _order
from gateway.kinds.wiring import Parts, Running
from gateway.staff_registry import Roster
from gateway.store.repos.deliveries import Deliveries
from gateway.store.sqlite import transaction

NAME = "workorders"
# The store's action -> the feed's event
EVENTS = {"open": "opened", "callback": "called_back", "rectify": "rectified", "appeal": "appealed", "close": "closed"}


class WorkOrderFeed:
    def __init__(self, zone: str, departments: Callable[[], Mapping[str, str]]) -> None:
        self.zone = ZoneInfo(zone)
        self.departments = departments  # staff id -> department (the registry as it is now)
        self.feed: Feed | None = None

    def rows(self, o: WorkOrder, action: str, at_ns: int) -> list[tuple[str, str]]:
        if self.feed is not None and not self.feed.live:
            return []
        body: dict[str, Any] = {
            "kind": "workorder",
            "id": o.id,
            "event": EVENTS.get(action, action),
            "state": o.state,
            "window": o.window,
            "department": self.departments().get(o.staff, ""),
            "score": o.score,
            "reasons": list(o.reasons),
            "at": at(at_ns, self.zone),
            "deadline": at(o.deadline_ns, self.zone),
        }
        if self.feed is not None:
            self.feed.wake.set()  # its sender looks at once (it finds the row once committed)
        return [change(NAME, body)]


def tell_overdue(store: RatingStore, now_ns: int) -> int:
    """Queue, once each, the `overdue` of the orders past their deadline; how many."""
    if store.told is None:
        return 0
    store.flush_for_read()
    due = ", ".join("?" * len(DUE))
    sql = (
        f"SELECT * FROM workorders WHERE state IN ({due}) AND deadline_ns <= ? "
        "AND id NOT IN (SELECT workorder FROM workorders_overdue_told)"
    )
    late = [_order(r) for r in store.conn.execute(sql, (*DUE, now_ns))]
    if late:
        with transaction(store.conn) as c:
            c.executemany("INSERT OR IGNORE INTO workorders_overdue_told VALUES (?)", [(o.id,) for o in late])
            Deliveries.queue_in(c, [row for o in late for row in store.told(o, "overdue", now_ns)], now_ns)
    return len(late)


def open_counts(store: RatingStore, now_ns: int) -> dict[str, Any]:
    """The orders not closed (`open`, and by state) and, of them, those past their deadline."""
    store.flush_for_read()
    by = dict(store.conn.execute("SELECT state, count(*) FROM workorders WHERE state != 'closed' GROUP BY 1"))
    due = ", ".join("?" * len(DUE))
    sql = f"SELECT count(*) FROM workorders WHERE state IN ({due}) AND deadline_ns <= ?"
    overdue = store.conn.execute(sql, (*DUE, now_ns)).fetchone()[0]
    return {"open": sum(by.values()), "overdue": overdue, "by_state": by}


def run(running: Running) -> Parts:
    """The feed of the hall's rating pads' work orders (`Kind.runs`)."""
    p = running.projections.of(RatingsProjection)
    if p is None or p.store is None:
        return Parts()
    store = p.store
    roster = Roster(running.cfg, running.journal)  # the registry now: a POST /api/v1/staff counts at once
    p.names = roster.names  # the name in a 差评's alert
    told = WorkOrderFeed(running.cfg.timezone, roster.departments)
    told.feed = Feed(NAME, lambda now_ns: open_counts(store, now_ns))
    store.told = told.rows
    running.desk.riders.add(Rider("work orders overdue", tick=lambda now_ns: tell_overdue(store, now_ns)))
    return Parts(feeds=[told.feed])
