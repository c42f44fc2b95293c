from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from gateway.alerts.lifecycle import Alert
from gateway.alerts.words import summary as said
from gateway.api.deps import CallerDep, NoteText, RoleDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.lang import Lang, LangDep
from gateway.api.routes.period import RowId
from gateway.commands.audit import Caller
from gateway.domain.conditions import Severity
from gateway.kinds.registry import KINDS
from gateway.view import View

router = APIRouter(tags=["alerts"])

Filter = Literal["open", "acknowledged", "resolved", "closed", "active"]
HANDLERS = ("technician", "duty_manager", "manager")


class AlertOut(BaseModel):
    id: int
    rule: str
    key: str
    severity: Severity
    summary: str
    device: str | None
    state: Literal["open", "acknowledged", "resolved", "closed"]
    opened_at: str | None
    updated_at: str | None
    occurrences: int
    closes_by_hand: bool
    closed_by: list[str] | None  # the roles that may close it, if not every handler (a 差评's: managers)
    acked_by: str | None
    acked_at: str | None
    note: str | None
    ended_at: str | None


class NoteIn(BaseModel):
    note: NoteText = Field("", max_length=1000)


def _closed_by(rule: str) -> list[str] | None:
    """The roles a kind gives one of its alerts to (Kind.closed_by), if it does."""
    roles = next((k.closed_by[rule] for k in KINDS.values() if rule in k.closed_by), None)
    return list(roles) if roles is not None else None


def _out(view: View, a: Alert, lang: Lang) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule,
        "key": a.key,
        "severity": a.severity,
        "summary": said(a, lang),
        "device": a.device,
        "state": a.state,
        "opened_at": iso(view, a.opened_ns),
        "updated_at": iso(view, a.updated_ns),
        "occurrences": a.occurrences,
        "closes_by_hand": a.manual,
        "closed_by": _closed_by(a.rule),
        "acked_by": a.acked_by,
        "acked_at": iso(view, a.acked_ns),
        "note": a.note,
        "ended_at": iso(view, a.ended_ns),
    }


@router.get("/alerts", response_model=list[AlertOut], summary="Open alerts first, then recently ended ones")
async def list_alerts(
    view: ViewDep,
    _: RoleDep,
    lang: LangDep,
    state: Filter | None = None,
    severity: Severity | None = None,
    device: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    alerts = view.alerts.active() + ([] if state == "active" else view.alerts.recent(limit))
    out = [
        a
        for a in alerts
        if (state in (None, "active") or a.state == state)
        and (severity is None or a.severity == severity)
        and (device is None or a.device == device)
    ]
    return [_out(view, a, lang) for a in out[:limit]]


def _act(view: View, alert_id: int, action: str, who: Caller, note: str, lang: Lang) -> dict[str, Any]:
    a = view.alerts.find(alert_id)
    if a is None:
        raise ApiError(404, "unknown_alert", f"no alert {alert_id}; GET /api/v1/alerts lists them", alert=alert_id)
    if not a.active:
        raise ApiError(409, "alert_ended", f"alert {alert_id} is already {a.state}", state=a.state)
    if action == "close" and not a.manual:
        raise ApiError(
            409,
            "resolves_itself",
            f"alert {alert_id} ({a.rule}) resolves by itself when its condition clears; acknowledge it instead",
            rule=a.rule,
        )
    closed_by = _closed_by(a.rule)
    if action == "close" and closed_by is not None and who.role not in closed_by:
        raise ApiError(
            403,
            "forbidden",
            f"alert {alert_id} ({a.rule}) is closed by one of: {', '.join(closed_by)} (its work order), not {who.role}",
            case="managers_alert",
            role=who.role,
            roles=closed_by,
        )
    fn = view.alerts.ack if action == "ack" else view.alerts.close
    done = fn(alert_id, who.actor, note, time.time_ns())
    assert done is not None
    return _out(view, done, lang)


@router.post(
    "/alerts/{alert_id}/ack",
    responses={409: {"description": "`alert_ended`: the alert is already resolved or closed"}},
    response_model=AlertOut,
    summary="Acknowledge an alert, with a note",
)
async def ack(
    alert_id: RowId, body: NoteIn, view: ViewDep, who: CallerDep, lang: LangDep, _: str = require(*HANDLERS)
) -> dict[str, Any]:
    # Who acknowledged is the token's holder as the audit names them, not the role several share.
    return _act(view, alert_id, "ack", who, body.note, lang)


@router.post(
    "/alerts/{alert_id}/close",
    responses={
        403: {"description": "`forbidden`: the alert is another role's to close (a 差评's: its work order's managers)"},
        409: {"description": "`alert_ended`, or `resolves_itself`: its condition clears it (acknowledge it instead)"},
    },
    response_model=AlertOut,
    summary="Close an alert no condition can clear (e.g. a forced-open door), with a note",
)
async def close(
    alert_id: RowId, body: NoteIn, view: ViewDep, who: CallerDep, lang: LangDep, _: str = require(*HANDLERS)
) -> dict[str, Any]:
    return _act(view, alert_id, "close", who, body.note, lang)
