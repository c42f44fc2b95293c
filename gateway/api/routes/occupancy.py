from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.api.deps import RoleDep, ViewDep, iso

router = APIRouter(tags=["occupancy"])


class ZoneOut(BaseModel):
    zone: str
    name: str
    occupancy: int
    capacity: int
    entered: int
    left: int
    updated_at: str | None


@router.get("/occupancy", response_model=list[ZoneOut], summary="People in each zone now")
async def occupancy(view: ViewDep, _: RoleDep) -> list[dict[str, Any]]:
    return [
        {
            "zone": z.zone,
            "name": z.name,
            "occupancy": z.occupancy,
            "capacity": z.capacity,
            "entered": z.entered,
            "left": z.left,
            "updated_at": iso(view, z.updated_ns),
        }
        for z in view.zones()
    ]
