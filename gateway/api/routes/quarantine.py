from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.api.deps import ViewDep, iso, require
from gateway.api.routes.period import INT64_MAX

router = APIRouter(tags=["devices"])


class QuarantinedOut(BaseModel):
    id: int
    at: str | None
    device: str | None
    topic: str
    reason: str
    detail: str
    size: int
    payload: str  # as text, undecodable bytes shown as \\xNN
    truncated: bool


@router.get(
    "/quarantine",
    response_model=list[QuarantinedOut],
    summary="Messages set aside as undecodable, newest first",
    dependencies=[require("technician", "admin")],
)
async def quarantine(
    view: ViewDep,
    device: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="page: ids below this")] = None,
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "at": iso(view, r.at_ns),
            "device": r.device,
            "topic": r.topic,
            "reason": r.reason,
            "detail": r.detail,
            "size": r.size,
            "payload": r.payload.decode("utf-8", "backslashreplace"),
            "truncated": r.size > len(r.payload),
        }
        for r in view.quarantine(device=device, limit=limit, before_id=before_id)
    ]
