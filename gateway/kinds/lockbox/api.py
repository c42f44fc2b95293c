"""Phone lockbox slots: unlock, authorised by role and working hours, confirmed by the cabinet."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, Field

from gateway.api.deps import CallerDep, RoleDep, Text, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.commanding import COMMAND_ERRORS, AuditOut, answer, desk_of, need_key, refused
from gateway.commands import Refused
from gateway.commands.desk import Request
from gateway.features.compliance import PhoneCompliance
from gateway.kinds.lockbox import SlotBook
from gateway.kinds.lockbox.policy import Denied, authorise_slot_unlock
from gateway.kinds.reads import Presence

router = APIRouter(tags=["commands"])


class SlotOut(BaseModel):
    slot: int
    door: str | None  # open, closed; None: not known yet
    locked: bool | None
    phone: bool | None
    since: str | None


@router.get("/lockboxes/{device}/slots", response_model=list[SlotOut], summary="Each slot's door, lock and phone")
async def slots(device: str, view: ViewDep, _: RoleDep) -> list[dict[str, Any]]:
    d = view.devices.get(device)
    if d is None or d.kind != "lockbox":
        raise ApiError(404, "unknown_lockbox", f"no lockbox {device!r} in this hall", device=device)
    book = view.projections.of(SlotBook)
    known = (book.slots.get(device) if book is not None else None) or {}
    return [
        {
            "slot": int(n),
            "door": s.get("door"),
            "locked": s.get("locked"),
            "phone": s.get("phone"),
            "since": iso(view, s.get("since_ns")),
        }
        for n, s in sorted(known.items(), key=lambda kv: int(kv[0]))
    ]


class ComplianceOut(BaseModel):
    staff: str
    device: str
    slot: int
    in_since: str | None  # clocked in since (the current spell today)
    phone_in: bool | None  # None: the cabinet has not reported this slot yet
    phone_since: str | None  # the phone in (or out) since


@router.get(
    "/lockboxes/compliance",
    responses={409: {"description": "`no_attendance`: no attendance machine; `no_slots`: no phones.lockboxes"}},
    response_model=list[ComplianceOut],
    summary="Staff clocked in, their slot, and whether their phone is in it (?missing=true: only those it is not)",
)
async def compliance(
    view: ViewDep, _: str = require("duty_manager", "manager"), missing: bool = False
) -> list[dict[str, Any]]:
    c = view.served(PhoneCompliance)
    # Who is in comes from whichever kind provides `Presence` (the attendance machines' punches).
    if c is None or view.projections.reads(Presence) is None:
        raise ApiError(409, "no_attendance", "this hall has no attendance machine: nobody is known to be in")
    if not c.slot_of:
        raise ApiError(409, "no_slots", "no staff has a lockbox slot: add phones.lockboxes to the configuration")
    return [
        {
            "staff": r.staff,
            "device": r.device,
            "slot": r.slot,
            "in_since": iso(view, r.in_since_ns),
            "phone_in": r.phone,
            "phone_since": iso(view, r.phone_since_ns),
        }
        for r in c.rows(time.time_ns())
        if not (missing and r.ok)
    ]


class UnlockIn(BaseModel):
    reason: Text = Field("", max_length=500, description="why; required in working hours")


@router.post(
    "/lockboxes/{device}/slots/{slot}/unlock",
    response_model=AuditOut,
    responses=COMMAND_ERRORS,
    summary="Unlock a slot: staff outside working hours, duty_manager any time (with a reason in working hours)",
)
async def unlock(
    device: str,
    slot: Annotated[int, Path(ge=1, le=48)],
    body: UnlockIn,
    view: ViewDep,
    who: CallerDep,
    # Required, and declared so in OpenAPI (it was optional there): a missing one is still the
    # 400 idempotency_key_required (errors.py).
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=128)],
    _: str = require("staff", "duty_manager"),
) -> Any:
    desk = desk_of(view)
    d = view.devices.get(device)
    if d is None or d.kind != "lockbox":
        raise ApiError(404, "unknown_lockbox", f"no lockbox {device!r} in this hall", device=device)
    key = need_key(idempotency_key)
    req = Request("unlock", device, "unlock", {"slot": slot}, f"slot {slot}", who, body.reason.strip())
    try:
        authorise_slot_unlock(who, req.reason, view.schedule, view.timezone, time.time_ns())
    except Denied as e:
        desk.deny(req, str(e))
        raise ApiError(403, "forbidden", str(e), case=e.case, slot=slot, **e.params) from None
    try:
        return answer(await desk.run(req, key))
    except Refused as e:
        return refused(e)
