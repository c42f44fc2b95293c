"""The queue's HTTP routes (`Kind.router`): the lines now, the visits, and the figures."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.period import ISO_PATTERN, IsoDate, period
from gateway.domain.queue import Figures, Visit
from gateway.view import View

router = APIRouter(tags=["queue"])

By = Literal["line", "window", "staff", "item", "hour"]
Start = Annotated[str | None, Query(pattern=ISO_PATTERN, description="date or time (hall time); default: today")]
End = Annotated[str | None, Query(pattern=ISO_PATTERN, description="date or time, exclusive; default: now")]
NO_QUEUE = "404: `no_queue`: this hall has no queue system"


class LineOut(BaseModel):
    line: str
    name: str
    waiting: int | None  # the queue server's snapshot; None when it has not sent this line
    open_windows: list[str]
    longest_wait_s: float | None  # the longest a ticket now waiting has waited (by the events)
    expected_wait_s: float | None  # a ticket issued now: ceil(waiting / open windows) x today's median handling
    events_waiting: int  # waiting by the day's events
    agrees: bool | None  # the snapshot's count equals the events' (None without a snapshot)
    snapshot_at: str | None


class Spread(BaseModel):
    mean_s: float | None
    median_s: float | None
    p90_s: float | None


class FiguresOut(BaseModel):
    key: str | None = None
    tickets: int
    issued: int
    served: int
    no_shows: int
    transfers: int
    unissued: int
    appointment_share: float | None
    waiting: Spread
    handling: Spread


class SummaryOut(BaseModel):
    start: str | None
    end: str | None
    by: By | None
    total: FiguresOut
    groups: list[FiguresOut]


class TransactionOut(BaseModel):
    line: str
    item: str
    queued_at: str | None
    first_called_at: str | None
    calls: int
    started_at: str | None
    ended_at: str | None
    window: str
    staff_id: str
    case_id: str
    outcome: str
    waiting_s: float | None
    handling_s: float | None


class VisitOut(BaseModel):
    day: str
    ticket: str
    generation: int
    source: str
    unissued: bool
    transactions: list[TransactionOut]


def queue_of(view: View) -> Any:
    p = view.projection("queue")
    if p is None or p.store is None:
        raise ApiError(404, "no_queue", "本厅未配置排队叫号系统 (no queue system configured)")
    return p


def _s(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e9, 1)


@router.get("/queue", responses={404: {"description": NO_QUEUE}}, response_model=list[LineOut], summary="Each line now")
async def lines(view: ViewDep, _: PublicRoleDep) -> list[dict[str, Any]]:
    p = queue_of(view)
    return [
        {
            "line": n.line,
            "name": n.name,
            "waiting": n.waiting,
            "open_windows": list(n.open_windows),
            "longest_wait_s": n.longest_wait_s,
            "expected_wait_s": n.expected_wait_s,
            "events_waiting": n.events_waiting,
            "agrees": n.agrees,
            "snapshot_at": iso(view, n.snapshot_ts_ns),
        }
        for n in p.lines(time.time_ns())
    ]


def _visit(view: View, generation: int, v: Visit) -> dict[str, Any]:
    return {
        "day": v.day,
        "ticket": v.ticket,
        "generation": generation,
        "source": v.transactions[0].source,
        "unissued": v.unissued,
        "transactions": [
            {
                "line": t.line,
                "item": t.item,
                "queued_at": iso(view, t.queued_ns),
                "first_called_at": iso(view, t.first_called_ns),
                "calls": t.calls,
                "started_at": iso(view, t.started_ns),
                "ended_at": iso(view, t.ended_ns),
                "window": t.window,
                "staff_id": t.staff,
                "case_id": t.case_id,
                "outcome": t.outcome,
                "waiting_s": _s(t.waiting_ns),
                "handling_s": _s(t.handling_ns),
            }
            for t in v.transactions
        ],
    }


@router.get(
    "/queue/visits",
    responses={404: {"description": NO_QUEUE}},
    response_model=list[VisitOut],
    summary="The visits that began in a period, oldest first",
    dependencies=[require("duty_manager", "manager")],
)
async def visits(
    view: ViewDep,
    start: Start = None,
    end: End = None,
    date: Annotated[IsoDate | None, Query(description="one day (instead of start/end)")] = None,
    line: str | None = None,
    window: str | None = None,
) -> list[dict[str, Any]]:
    a, b = period(view, start, end, date, time.time_ns())  # a bad period is 422 whether or not the hall has one
    p = queue_of(view)
    return [
        _visit(view, g, v)
        for g, v in p.visits(a, b)
        if (line is None or any(t.line == line for t in v.transactions))
        and (window is None or any(t.window == window for t in v.transactions))
    ]


@router.get(
    "/queue/summary",
    responses={404: {"description": NO_QUEUE}},
    response_model=SummaryOut,
    summary="Tickets, served, no-shows, transfers, waiting and handling times, by group",
)
async def summary(
    view: ViewDep,
    role: PublicRoleDep,
    by: By | None = None,
    start: Start = None,
    end: End = None,
    date: Annotated[IsoDate | None, Query(description="one day (instead of start/end)")] = None,
) -> dict[str, Any]:
    if by == "staff" and role == "viewer":
        raise ApiError(
            403,
            "forbidden",
            "查看人员的数字需要值班长或管理员权限 (role viewer may not see figures by staff)",
            case="queue_staff",
            role=role,
        )
    a, b = period(view, start, end, date, time.time_ns())  # a bad period is 422 whether or not the hall has one
    p = queue_of(view)
    total = p.store.figures(a, b, None).get(None) or Figures().out()
    groups = p.store.figures(a, b, by) if by else {}
    return {
        "start": iso(view, a),
        "end": iso(view, b),
        "by": by,
        "total": total,
        "groups": [{"key": k, **f} for k, f in sorted(groups.items())],
    }
