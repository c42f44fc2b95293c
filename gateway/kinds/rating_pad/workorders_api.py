"""差评 rectification work orders (整改工单): read by any role but the wall's, moved on by the duty
manager or a manager; and the 差评 with their handling as the public wall shows them."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.api.deps import CallerDep, PublicRoleDep, RoleDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.period import INT64_MAX, RowId
from gateway.api.routes.workorders import NoteIn
from gateway.domain.workorders import TransitionError, WorkOrder
from gateway.i18n.catalogue import label
from gateway.kinds.rating_pad.ratings_api import ratings_of
from gateway.view import View

router = APIRouter(tags=["ratings"])

State = Literal["open", "called_back", "rectified", "appealed", "closed"]
Action = Literal["callback", "rectify", "appeal", "close"]
HANDLERS = ("duty_manager", "manager")
WindowQuery = Annotated[str | None, Query(max_length=64, description="one window's orders")]


class LogOut(BaseModel):
    at: str | None
    action: str
    who: str
    from_state: str | None
    to_state: str
    note: str


class WorkOrderOut(BaseModel):
    id: int
    state: State
    overdue: bool
    case_id: str
    window: str
    staff_id: str
    item: str
    score: int
    reasons: list[str]
    device: str
    rated_at: str | None
    opened_at: str | None
    deadline: str | None
    updated_at: str | None
    callback_note: str | None
    rectification: str | None
    appeal_reason: str | None
    close_note: str | None
    satisfaction: Literal["satisfied", "dissatisfied"] | None = None  # 回访满意度, said on the callback
    log: list[LogOut] | None = None


class PublicBadOut(BaseModel):
    """A 差评 as the public wall shows it: what it was about and how far its handling has come; not
    who, where or which case, and no notes (they may name anyone)."""

    state: State
    overdue: bool
    item: str
    score: int
    reasons: list[str]
    rated_at: str | None
    deadline: str | None
    updated_at: str | None


def _out(view: View, o: WorkOrder, now_ns: int, log: list[Any] | None = None) -> dict[str, Any]:
    return {
        "id": o.id,
        "state": o.state,
        "overdue": o.overdue(now_ns),
        "case_id": o.case_id,
        "window": o.window,
        "staff_id": o.staff,
        "item": o.item,
        "score": o.score,
        "reasons": list(o.reasons),
        "device": o.device,
        "rated_at": iso(view, o.rated_ns),
        "opened_at": iso(view, o.opened_ns),
        "deadline": iso(view, o.deadline_ns),
        "updated_at": iso(view, o.updated_ns),
        "callback_note": o.callback_note,
        "rectification": o.rectification,
        "appeal_reason": o.appeal_reason,
        "close_note": o.close_note,
        "satisfaction": o.satisfaction,
        "log": None
        if log is None
        else [
            {"at": iso(view, at), "action": a, "who": who, "from_state": f, "to_state": t, "note": n}
            for at, a, who, f, t, n in log
        ],
    }


@router.get(
    "/workorders",
    responses={404: {"description": "this hall has no rating pads"}},
    response_model=list[WorkOrderOut],
    summary="差评 work orders, newest first, paged",
)
async def workorders(
    view: ViewDep,
    _: RoleDep,
    state: State | None = None,
    overdue: bool | None = None,
    window: WindowQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="page: ids below this")] = None,
) -> list[dict[str, Any]]:
    return orders_of(view, state, overdue, window, limit, before_id)


def orders_of(
    view: View, state: State | None, overdue: bool | None, window: str | None, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    now = time.time_ns()
    orders = ratings_of(view).store.orders(
        state=state, overdue_at=now if overdue else None, window=window, limit=limit, before_id=before_id
    )
    return [_out(view, o, now) for o in orders if overdue is not False or not o.overdue(now)]


@router.get(
    "/ratings/bad",
    responses={404: {"description": "this hall has no rating pads"}},
    response_model=list[PublicBadOut],
    summary="差评 and their handling, newest first, without who, where or which case (the public wall's)",
)
async def bad_ratings(
    view: ViewDep, _: PublicRoleDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    now = time.time_ns()
    orders = ratings_of(view).store.orders(state=None, overdue_at=None, limit=limit, before_id=None)
    return [
        {
            "state": o.state,
            "overdue": o.overdue(now),
            "item": o.item,
            "score": o.score,
            "reasons": list(o.reasons),
            "rated_at": iso(view, o.rated_ns),
            "deadline": iso(view, o.deadline_ns),
            "updated_at": iso(view, o.updated_ns),
        }
        for o in orders
    ]


@router.get(
    "/workorders/{order_id}",
    responses={404: {"description": "no such work order, or this hall has no rating pads"}},
    response_model=WorkOrderOut,
    summary="One work order with its audit trail",
)
async def workorder(order_id: RowId, view: ViewDep, _: RoleDep) -> dict[str, Any]:
    store = ratings_of(view).store
    o = store.order(order_id)
    if o is None:
        raise ApiError(
            404, "unknown_workorder", f"no work order {order_id}; GET /api/v1/workorders lists them", order=order_id
        )
    return _out(view, o, time.time_ns(), store.log(order_id))


@router.post(
    "/workorders/{order_id}/{action}",
    responses={
        404: {"description": "no such work order, or this hall has no rating pads"},
        409: {
            "description": "`bad_transition`: the order is not in a state this step leaves, or a "
            "satisfaction given with another step than the callback"
        },
    },
    response_model=WorkOrderOut,
    summary="Move a work order on: callback (回访), rectify, appeal (申诉) or close, with a note",
)
async def act(
    order_id: RowId, action: Action, body: NoteIn, view: ViewDep, who: CallerDep, _: str = require(*HANDLERS)
) -> dict[str, Any]:
    p = ratings_of(view)
    now = time.time_ns()
    try:
        o = p.act(order_id, action, who.actor, body.note, now, body.satisfaction)  # the holder, not the role
    except TransitionError as e:
        raise ApiError(
            409, "bad_transition", str(e), order=order_id, action=label("workorder_action", action)
        ) from None
    if o is None:
        raise ApiError(
            404, "unknown_workorder", f"no work order {order_id}; GET /api/v1/workorders lists them", order=order_id
        )
    return _out(view, o, now, p.store.log(order_id))
