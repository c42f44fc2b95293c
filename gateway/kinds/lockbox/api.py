"""Phone lockbox slots: unlock, authorised by role and working hours, confirmed by the cabinet."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, Field

from gateway.api.deps import CallerDep, RoleDep, Text, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.commanding import COMMAND_ERRORS, AuditOut, answer, desk_of, need_key, refused
from gateway.commands import Refused
from gateway.commands.desk import Request
from gateway.features.compliance import PhoneCompliance
from gateway.i18n.catalogue import explain, label
from gateway.kinds.lockbox import SlotBook
from gateway.kinds.lockbox.policy import Denied, UnlockRule, authorise_slot_unlock, unlock_rule
from gateway.kinds.reads import Presence
from gateway.view import View

router = APIRouter(tags=["commands"])


class SlotOut(BaseModel):
    slot: int
    door: str | None  # open, closed; None: not known yet
    locked: bool | None
    phone: bool | None
    since: str | None
    jammed: bool = Field(description="the lock did not release at the last try (lock_fault): it needs a technician")
    may_unlock: bool = Field(description="the caller may unlock this slot now (the unlock route's own rule)")
    reason_required: bool = Field(description="an unlock now needs a reason (working hours)")
    rule: str = Field(description="why: free, with_reason, offline, jammed, or forbidden/<case> of the unlock's 403")
    why: str = Field(description="the same in Chinese, with who may and when where it is a refusal")


def slot_count(view: View, device: str, known: Mapping[str, Any]) -> int:
    """Every slot of the cabinet: its `slots` in the hall file, else as far as it reported."""
    configured = getattr(view.devices[device].config, "slots", None) or 0
    return max([configured, *map(int, known)])


@router.get(
    "/lockboxes/{device}/slots",
    response_model=list[SlotOut],
    summary="Each slot's door, lock, phone and jam, and whether the caller may unlock it now (and why)",
)
async def slots(device: str, view: ViewDep, who: CallerDep, _: RoleDep) -> list[dict[str, Any]]:
    d = view.devices.get(device)
    if d is None or d.kind != "lockbox":
        raise ApiError(404, "unknown_lockbox", f"no lockbox {device!r} in this hall", device=device)
    book = view.projections.of(SlotBook)
    known = (book.slots.get(device) if book is not None else None) or {}
    detail = view.device_detail(device)
    online = detail is not None and detail.device.online
    jammed = set(detail.info.get("jammed", ())) if detail is not None else set()
    rule = unlock_rule(who, view.schedule, view.timezone, time.time_ns())
    out = []
    for n in range(1, slot_count(view, device, known) + 1):
        s = known.get(str(n), {})
        stuck = f"slot {n}" in jammed
        code, why = rule_words(rule, online, stuck)
        out.append(
            {
                "slot": n,
                "door": s.get("door"),
                "locked": s.get("locked"),
                "phone": s.get("phone"),
                "since": iso(view, s.get("since_ns")),
                "jammed": stuck,
                "may_unlock": code in ("free", "with_reason"),
                "reason_required": rule.reason_required,
                "rule": code,
                "why": why,
            }
        )
    return out


def rule_words(rule: UnlockRule, online: bool, jammed: bool) -> tuple[str, str]:
    """The slot's rule code and its Chinese words: the cabinet's state first (nothing opens an
    offline cabinet or a jammed lock), then who may open it now."""
    if not online:
        code = "offline"
    elif jammed:
        code = "jammed"
    elif rule.denied is not None:
        said = explain("forbidden", {"case": rule.denied.case, **rule.denied.params})
        return f"forbidden/{rule.denied.case}", "。".join(filter(None, (said["message"], said.get("next"))))
    else:
        code = "with_reason" if rule.reason_required else "free"
    return code, label("unlock_rule", code)


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
