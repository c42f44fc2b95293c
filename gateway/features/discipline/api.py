"""The discipline ledger's routes: the violations with their evidence, the steps people take on
them, and the three strikes. Names are for the duty manager and managers (an appeal is the
person's, through a staff token): the ledger itself is readable by every role (api-contract.md),
with names masked and staff ids left out for all but them and the person's own records."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from gateway import staff_registry
from gateway.api.deps import CallerDep, NoteText, PublicRoleDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.period import RowId, moment
from gateway.domain import discipline as d
from gateway.domain.names import mask_name
from gateway.features.discipline.ledger import Ledger, Unknown
from gateway.features.discipline.reads import audited, masked_view, own_view
from gateway.i18n.catalogue import label
from gateway.view import View

router = APIRouter(tags=["discipline"])

MANAGERS = ("duty_manager", "manager")
State = Literal["detected", "confirmed", "dismissed", "appealed", "decided"]
Kind = Literal["unready", "away", "phone", "chat", "other"]  # chat, other: recorded by people only


class StepOut(BaseModel):
    action: str
    actor: str
    role: str
    text: str
    outcome: str | None
    at: str | None


class ViolationOut(BaseModel):
    id: int
    kind: Kind
    staff: str | None  # none for a reader who may not see names
    name: str | None  # from the staff registry; masked (王*) for a reader who may not see names
    department: str
    window: str | None
    at: str | None  # when it began
    state: State
    outcome: str | None  # a decision: upheld, overturned
    counts: bool  # towards the three strikes
    evidence: list[dict[str, Any]]  # the device events it came from (times in the hall's zone)
    steps: list[StepOut] | None = None  # the single violation's audit trail


class StrikeOut(BaseModel):
    staff: str
    name: str | None
    period: str
    count: int
    limit: int
    violations: list[int]
    escalated_at: str | None


class ReasonIn(BaseModel):
    reason: NoteText = Field(min_length=1, max_length=2000, description="why (confirm, dismiss, decide)")


class AppealIn(BaseModel):
    # `reason`, as every step of the lifecycle (api-contract.md); `note`, the pages' older name, still read.
    reason: NoteText | None = Field(None, min_length=1, max_length=2000, description="the person's appeal")
    note: NoteText | None = Field(None, min_length=1, max_length=2000, description="the same (older name)")

    @model_validator(mode="after")
    def _one_text(self) -> AppealIn:
        if not (self.reason or self.note):
            raise ValueError("reason is required")
        return self

    @property
    def text(self) -> str:
        return self.reason or self.note or ""


class DecideIn(ReasonIn):
    outcome: Literal["upheld", "overturned"]


def ledger_of(view: View) -> Ledger:
    led = view.served(Ledger)
    if led is None:
        raise ApiError(409, "no_ledger", "the discipline ledger is not running in this gateway")
    return led


def _names(view: View) -> dict[str, str]:
    return staff_registry.names(view.cfg, view.journal)


def _out(view: View, v: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out = {
        **{k: v[k] for k in ("id", "kind", "staff", "department", "window", "state", "outcome")},
        "name": names.get(v["staff"]),
        "at": iso(view, v["at_ns"]),
        "counts": d.counts(v["state"], v["outcome"]),
        "evidence": [{**e, "at": iso(view, e.get("ts_ns"))} for e in v["evidence"]],
    }
    if "steps" in v:
        out["steps"] = [{**s, "at": iso(view, s.pop("at_ns"))} for s in v["steps"]]
    return out


@router.get("/violations", response_model=list[ViolationOut], summary="The discipline ledger, newest first")
async def violations(
    view: ViewDep,
    who: CallerDep,
    role: PublicRoleDep,
    start: Annotated[str | None, Query(description="from this date or time (hall time)")] = None,
    end: Annotated[str | None, Query(description="before this date or time")] = None,
    state: State | None = None,
    staff: Annotated[str | None, Query(max_length=64, description="managers: anyone's; staff: their own")] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    given = filters(start, end, state, staff, department, kind)
    names = _names(view)
    if role in MANAGERS:
        rows = find(view, start, end, state, staff, department, kind, limit)
        audited(view, who, "ledger", given, [v["id"] for v in rows])
        return [_out(view, v, names) for v in rows]
    # Issue 23: only managers, duty managers and the person see names. Everyone else reads the
    # ledger masked, and may not pick a person out of it by id either.
    own = (who.staff or who.actor) if role == "staff" else None
    if staff is not None and staff != own:
        why = f"role {role} may not filter the ledger by person"
        raise ApiError(403, "forbidden", why, case="named_filter", role=role, roles=MANAGERS)
    rows = find(view, start, end, state, staff, department, kind, limit)
    mine = [v["id"] for v in rows if v["staff"] == own]
    if mine:  # the person's own records, named: a read of the named ledger like /violations/mine
        audited(view, who, "own", given, mine)
    own_name = {own: names[own]} if own in names else {}
    return [
        _out(view, own_view(v, own), own_name) if own is not None and v["staff"] == own else _masked(view, v, names)
        for v in rows
    ]


def _masked(view: View, v: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    name = names.get(v["staff"])
    return {**_out(view, masked_view(v), {}), "name": mask_name(name) if name else None}


def filters(*values: str | None) -> dict[str, str | None]:
    return dict(zip(("start", "end", "state", "staff", "department", "kind"), values, strict=True))


def find(
    view: View, start: str | None, end: str | None, state: str | None, staff: str | None,
    department: str | None, kind: str | None, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """The ledger's rows for a filter, newest first (the ledger and its export)."""
    return ledger_of(view).repo.find(
        start_ns=moment(view, start, "start") if start else None,
        end_ns=moment(view, end, "end") if end else None,
        state=state,
        staff=staff,
        department=department,
        kind=kind,
        limit=limit,
    )


@router.get(
    "/violations/strikes",
    response_model=list[StrikeOut],
    summary="Each person's counted violations in the current period, and the escalations raised",
)
async def strikes(view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)) -> list[dict[str, Any]]:
    names = _names(view)
    rows = ledger_of(view).strikes_now(time.time_ns())
    audited(view, who, "strikes", {}, [i for s in rows for i in s["violations"]])
    return [{**s, "name": names.get(s["staff"]), "escalated_at": iso(view, s.pop("escalated_ns"))} for s in rows]


def _act(view: View, vid: int, action: str, who: Any, text: str, outcome: str | None = None) -> dict[str, Any]:
    try:
        # A staff caller acts as the person it stands for (its staff id); others by their own name.
        actor = (who.staff or who.actor) if who.role == "staff" else who.actor
        v = ledger_of(view).act(vid, action, (actor, who.role), text, outcome)
    except Unknown:
        raise ApiError(404, "unknown_violation", f"no violation {vid}", violation=vid) from None
    except d.TransitionError as e:
        if e.code == "forbidden":
            raise ApiError(403, "forbidden", str(e), case="appeal_own", violation=vid) from None
        raise ApiError(409, e.code, str(e), violation=vid, action=label("violation_action", action)) from None
    return _out(view, v, _names(view))


STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`unknown_violation`"},
    409: {"description": "`violation_state`: not in a state this step leaves"},
}


@router.post(
    "/violations/{violation_id}/confirm",
    response_model=ViolationOut,
    responses=STEP_ERRORS,
    summary="Confirm a detected violation, with a reason",
)
async def confirm(
    violation_id: RowId, body: ReasonIn, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)
) -> dict[str, Any]:
    return _act(view, violation_id, "confirm", who, body.reason)


@router.post(
    "/violations/{violation_id}/dismiss",
    response_model=ViolationOut,
    responses=STEP_ERRORS,
    summary="Dismiss a detected violation, with a reason",
)
async def dismiss(
    violation_id: RowId, body: ReasonIn, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)
) -> dict[str, Any]:
    return _act(view, violation_id, "dismiss", who, body.reason)


@router.post(
    "/violations/{violation_id}/appeal",
    response_model=ViolationOut,
    responses=STEP_ERRORS,
    summary="Appeal a confirmed violation (the person), with a reason",
)
async def appeal(
    violation_id: RowId, body: AppealIn, view: ViewDep, who: CallerDep, _: str = require("staff", *MANAGERS)
) -> dict[str, Any]:
    return _act(view, violation_id, "appeal", who, body.text)


@router.post(
    "/violations/{violation_id}/decide",
    response_model=ViolationOut,
    responses=STEP_ERRORS,
    summary="Decide an appeal: upheld (it counts) or overturned, with a reason",
)
async def decide(
    violation_id: RowId, body: DecideIn, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)
) -> dict[str, Any]:
    return _act(view, violation_id, "decide", who, body.reason, body.outcome)
