"""The audit trail: every command and its outcome (state database, kept audit_keep_days)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.api.deps import ViewDep, require
from gateway.api.routes.commanding import AuditOut
from gateway.api.routes.period import INT64_MAX, IsoDateTime, epoch_ns
from gateway.commands.audit import iso_time

router = APIRouter(tags=["commands"])


def _ns(t: datetime | None, zone: str, name: str) -> int | None:
    return None if t is None else epoch_ns(t, zone, name)


@router.get(
    "/audit",
    response_model=list[AuditOut],
    summary="Every command and its outcome, newest first",
    dependencies=[require("manager", "admin")],
)
async def audit(
    view: ViewDep,
    device: str | None = None,
    actor: str | None = None,
    start: Annotated[IsoDateTime | None, Query(description="from this time (ISO 8601; no offset: the hall's)")] = None,
    end: Annotated[IsoDateTime | None, Query(description="before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="page: ids below this")] = None,
) -> list[dict[str, Any]]:
    rows = view.journal.audit(
        device=device,
        actor=actor,
        start_ns=_ns(start, view.timezone, "start"),
        end_ns=_ns(end, view.timezone, "end"),
        limit=limit,
        before_id=before_id,
    )
    return [{**{k: v for k, v in r.items() if k != "at_ns"}, "at": iso_time(r["at_ns"], view.timezone)} for r in rows]
