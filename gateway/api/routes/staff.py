"""The staff registry (`staff:` of the hall's file, completed from posts[] and the phones section,
with the changes made here over it: gateway/staff_registry.py): who a staff id is, so the pages
name a person instead of showing a 工号. Any reading role; the wall's `viewer` gets the names
masked (王*) and no staff id, cabinet or slot. `admin` adds, changes or retires one person
(`POST`), checked as `hallgate check-config` checks the file and audited with who did it;
`hallgate staff import` writes the file itself."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway import staff_registry
from gateway.api.deps import CallerDep, PublicRoleDep, Text, ViewDep, require
from gateway.api.errors import ApiError
from gateway.commands.audit import audit_row
from gateway.domain.names import mask_name

router = APIRouter(tags=["system"])


class StaffOut(BaseModel):
    id: str | None  # the staff id the devices send; none for the viewer
    name: str  # for the viewer masked when the hall masks names (api.wall.mask_names)
    department: str
    window: str | None
    post: str | None  # A or B of their window
    device: str | None  # the cabinet their phone goes in; none for the viewer
    slot: int | None


class PhoneIn(BaseModel):
    device: Annotated[str, Field(max_length=64)]
    slot: int


class StaffIn(BaseModel):
    """One person as the file's staff[] writes them; `active: false` retires them."""

    id: Annotated[Text, Field(max_length=64)]
    name: Annotated[Text, Field(max_length=64)]
    department: Annotated[Text, Field(max_length=64)] = ""
    window: Annotated[Text | None, Field(max_length=16)] = None
    post: Literal["A", "B"] | None = None
    phone: PhoneIn | None = None
    active: bool = True


@router.get("/staff", response_model=list[StaffOut], summary="The staff registry: id, name, department, window, post")
async def staff(view: ViewDep, role: PublicRoleDep) -> list[StaffOut]:
    public = role == "viewer"
    mask = public and view.cfg.api.wall.mask_names
    return [
        StaffOut(
            id=None if public else p.id,
            name=mask_name(p.name) if mask else p.name,
            department=p.department,
            window=p.window,
            post=p.post,
            device=None if public else p.device,
            slot=None if public else p.slot,
        )
        for p in staff_registry.people(view.cfg, view.journal)
    ]


@router.post(
    "/staff",
    response_model=list[StaffOut],
    summary="Add, change or retire (active: false) one person of the staff registry",
    responses={
        404: {"description": "`unknown_staff`: retiring a person the registry does not have"},
        422: {"description": "`staff_invalid`: the change fails the registry's checks (each named)"},
    },
)
async def put_staff(body: StaffIn, view: ViewDep, who: CallerDep, _: str = require("admin")) -> list[StaffOut]:
    """Checked as the configuration's registry is (unknown window, a slot given twice, a post that
    posts[] contradicts), kept in the state database over the file's `staff:`, audited; the answer
    is the registry as it is now."""
    entry: dict[str, Any] = body.model_dump(exclude={"active"}, exclude_none=True)
    found = staff_registry.problems(view.cfg, view.journal, entry, body.active)
    if found:
        said = "；".join(f"{where}：{what}" for where, what in found)
        raise ApiError(422, "staff_invalid", f"the staff registry would be invalid: {said}", problems=said)
    known = {p.id for p in staff_registry.people(view.cfg, view.journal)}
    if not body.active and body.id not in known:
        raise ApiError(404, "unknown_staff", f"no staff {body.id!r} in the registry", staff=body.id)
    action = "staff_add" if body.id not in known else "staff_update" if body.active else "staff_retire"
    row = audit_row(
        at_ns=time.time_ns(),
        device="staff",
        part=body.id,
        action=action,
        caller=who,
        reason=f"{body.name} {body.department} {body.window or ''}".strip(),
        outcome="confirmed",
    )
    view.journal.repos.staff.put(entry, body.active, row)
    return await staff(view, who.role)
