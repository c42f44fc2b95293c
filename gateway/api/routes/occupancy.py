from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.api.deps import GatewayDep, RoleDep, iso

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
async def occupancy(gw: GatewayDep, _: RoleDep) -> list[dict[str, Any]]:
    names = {z.id: z.name for z in gw.cfg.zones}
    return [{"zone": z.zone, "name": names[z.zone], "occupancy": z.occupancy, "capacity": z.capacity,
             "entered": z.entered, "left": z.left, "updated_at": iso(gw, z.updated_ns)}
            for z in gw.hub.occupancy.zones.values()]
