"""大厅公示: the day's confirmed violations on the floor screens, for anyone who may read the wall
(its `viewer` included): kind, time, window, department and the name masked as the wall masks it
(`api.wall.mask_names`), never a staff id. One answer for every role: it is the notice the hall
posts, whoever reads it; the named ledger is GET /api/v1/violations."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel

from gateway import staff_registry
from gateway.api.deps import PublicRoleDep, ViewDep, iso
from gateway.domain import discipline as d
from gateway.domain.names import public_name
from gateway.features.discipline.api import ledger_of

router = APIRouter(tags=["discipline"])


class ExposedOut(BaseModel):
    kind: Literal["unready", "away", "phone"]
    at: str | None  # when it began (hall time)
    window: str | None
    department: str
    name: str | None  # masked as the wall masks names; none for a person the registry lacks


@router.get(
    "/violations/exposure",
    response_model=list[ExposedOut],
    summary="大厅公示: today's confirmed violations, names masked as the wall's, no staff ids",
)
async def exposure(view: ViewDep, _: PublicRoleDep) -> list[dict[str, Any]]:
    zone = ZoneInfo(view.cfg.timezone)
    day = datetime.fromtimestamp(time.time(), zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(day.timestamp() * 1e9)
    rows = ledger_of(view).repo.find(start_ns=start, limit=5000)
    names = staff_registry.names(view.cfg, view.journal)
    mask = view.cfg.api.wall.mask_names
    return [
        {
            "kind": r["kind"],
            "at": iso(view, r["at_ns"]),
            "window": r["window"],
            "department": r["department"],
            "name": public_name(r["staff"], names, mask),
        }
        for r in rows
        if d.counts(r["state"], r["outcome"])
    ]
