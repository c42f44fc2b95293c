"""The staff registry (`staff:` of the hall's file, completed from posts[] and the phones section):
who a staff id is, so the pages name a person instead of showing a 工号. Any reading role; the
wall's `viewer` gets the names masked (王*) and no staff id, cabinet or slot. Writing the registry
(POST, admin) is `hallgate staff import` for now."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep, ViewDep
from gateway.config.staff import registry
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
        for p in registry(view.cfg)
    ]
