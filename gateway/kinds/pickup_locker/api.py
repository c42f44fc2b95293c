"""Pickup lockers: staff deposit an item (and get its code), the locker's kiosk picks up with it."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, Field

from gateway.api.deps import CallerDep, Text, ViewDep, require
from gateway.api.errors import ApiError
from gateway.api.routes.commanding import COMMAND_ERRORS, AuditOut, CommandErrorOut, answer, refused
from gateway.commands import Refused
from gateway.kinds.pickup_locker.desk import PickupDesk
from gateway.view import View

router = APIRouter(tags=["commands"])
KeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class DepositIn(BaseModel):
    item: Text = Field(min_length=1, max_length=200, description="what is deposited (licence, certificate ...)")
    applicant: Text = Field(min_length=1, max_length=200, description="who collects it")


class DepositOut(BaseModel):
    item_id: int
    pickup_code: str = Field(description="6 digits; shown once, stored only as a hash")
    expires_at: str
    qr: str = Field(description="the QR payload the locker's reader accepts: PREFIX:site:locker:code")
    audit: AuditOut


class PickupIn(BaseModel):
    code: Text = Field(min_length=1, max_length=64)


class PickupOut(BaseModel):
    item_id: int
    door: int
    item: str
    audit: AuditOut


class ItemOut(BaseModel):
    id: int
    door: int
    item: str
    applicant: str
    state: Literal["waiting", "expired", "opened", "collected"]
    deposited_by: str
    deposited_at: str
    expires_at: str
    opened_at: str | None
    collected_at: str | None


def _pickup(view: View) -> PickupDesk:
    pickup = view.served(PickupDesk)
    if pickup is None:
        raise ApiError(503, "commands_unavailable", "this gateway runs without its command desk")
    return pickup


@router.post(
    "/lockers/{locker}/doors/{door}/deposit",
    response_model=DepositOut,
    responses=COMMAND_ERRORS,
    summary="Open a free door for a deposit and issue the item's pickup code",
)
async def deposit(
    locker: str,
    door: Annotated[int, Path(ge=0, le=255)],
    body: DepositIn,
    view: ViewDep,
    who: CallerDep,
    _: str = require("staff", "duty_manager"),
    idempotency_key: KeyHeader = None,
) -> Any:
    key = idempotency_key or uuid.uuid4().hex
    try:
        outcome, issued = await _pickup(view).deposit(who, locker, door, body.item, body.applicant, key)
    except Refused as e:
        return refused(e)
    return answer(outcome, None if issued is None else {**issued, "audit": outcome.body})


@router.post(
    "/lockers/{locker}/pickup",
    response_model=PickupOut,
    responses={
        **COMMAND_ERRORS,
        403: {"model": CommandErrorOut, "description": "a wrong code, or a token not of this locker's kiosk"},
        410: {"model": CommandErrorOut, "description": "the code has expired"},
        429: {"model": CommandErrorOut, "description": "locked out after repeated wrong codes (see Retry-After)"},
    },
    summary="The locker's kiosk: open the door of the item this code belongs to",
)
async def pickup(locker: str, body: PickupIn, view: ViewDep, who: CallerDep, idempotency_key: KeyHeader = None) -> Any:
    if who.role != "kiosk" or who.locker != locker:
        raise ApiError(
            403, "forbidden", f"only the kiosk of {locker} may pick up from it", case="other_locker", locker=locker
        )
    try:
        outcome, item = await _pickup(view).pickup(who, locker, body.code.strip(), idempotency_key or uuid.uuid4().hex)
    except Refused as e:
        return refused(e)
    return answer(outcome, {**item, "audit": outcome.body})


@router.get(
    "/lockers/{locker}/items",
    responses={503: {"description": "`commands_unavailable`: the gateway runs without its command desk"}},
    response_model=list[ItemOut],
    summary="Items in a locker: waiting, expired (not collected in time), opened, collected",
    dependencies=[require("staff", "duty_manager", "manager", "admin")],
)
async def items(
    locker: str, view: ViewDep, state: Literal["waiting", "expired", "opened", "collected"] | None = None
) -> Any:
    try:
        return _pickup(view).items(locker, state, time.time_ns())
    except Refused as e:
        return refused(e)
