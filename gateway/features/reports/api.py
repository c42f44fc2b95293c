"""The operations reports' routes (managers and the administrator): ask for a report of a period,
list them, read one's state and download its JSON, XLSX (and PDF when the PDF renderer is
installed). The answer to a request comes when the report is rendered (done or failed, with
the reason); a request for it while it renders gets its id, state rendering."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.api.deps import CallerDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.domain.periods import FORMS, PeriodError
from gateway.features.reports.desk import ReportDesk
from gateway.features.reports.render import MEDIA
from gateway.features.reports.schedule import Scheduler
from gateway.view import View

router = APIRouter(tags=["reports"])
ROLES = ("manager", "admin")
REF = re.compile(r"^(\d{1,12})(?:\.(json|xlsx|pdf))?$")


class ReportIn(BaseModel):
    kind: str = Field(min_length=1, max_length=16, description="day, week, month, quarter")
    period: str = Field(min_length=1, max_length=32, description="2026-12-07, 2026-W49, 2026-12, 2026-Q4")


class DeliveryOut(BaseModel):
    channel: Literal["robot", "email"]  # the work group's robot, e-mail
    state: Literal["queued", "retrying", "sent"]
    attempts: int  # failed so far
    error: str | None  # the last failure's, while it is retried
    queued: str | None
    sent: str | None


class ReportOut(BaseModel):
    id: int
    kind: str
    period: str
    start: str | None  # the inputs' time range, hall time
    end: str | None
    created: str | None
    by: str
    status: Literal["rendering", "done", "failed"]
    reason: str | None
    finished: str | None
    files: list[str]  # the formats that can be downloaded
    deliveries: list[DeliveryOut]  # a scheduled report's: to the work group, by e-mail


class RunOut(BaseModel):
    period: str
    at: str


class LastRunOut(BaseModel):
    period: str
    state: Literal["making", "done", "failed", "skipped"]
    attempts: int
    report: int | None
    retry_at: str | None  # a failed one's next attempt (none: no more)
    note: str | None  # a skipped one's reason


class ScheduledOut(BaseModel):
    kind: Literal["week", "month", "quarter"]
    at: str  # HH:MM, hall time
    next: RunOut
    last: LastRunOut | None


class ScheduleOut(BaseModel):
    enabled: bool
    timezone: str
    week_day: str
    retries: int
    runs: list[ScheduledOut]
    delivery: list[str]  # robot, email: where each made report goes


def desk_of(view: View) -> ReportDesk:
    d = view.served(ReportDesk)
    if d is None:
        raise ApiError(409, "no_reports", "operations reports are not running in this gateway")
    return d


def _out(view: View, d: ReportDesk, row: dict[str, Any], sent: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if sent is None:
        sent = d.repo_runs.deliveries([row["id"]])[row["id"]] if d.repo_runs else []
    deliveries = [
        {**{k: x[k] for k in ("channel", "state", "attempts", "error")}, "queued": iso(view, x["queued_ns"]),
         "sent": iso(view, x["sent_ns"])}
        for x in sent
    ]  # fmt: skip
    return {
        "deliveries": deliveries,
        **{k: row[k] for k in ("id", "kind", "period", "by", "status", "reason")},
        "start": iso(view, row["start_ns"]),
        "end": iso(view, row["end_ns"]),
        "created": iso(view, row["created_ns"]),
        "finished": iso(view, row["finished_ns"]),
        "files": [f for f in MEDIA if d.file(row["id"], f) is not None] if row["status"] == "done" else [],
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "`bad_kind`, `bad_period`, `future_period`, `before_data`: the accepted forms named"}
}


@router.post(
    "/reports", response_model=ReportOut, status_code=201, responses=ERRORS, summary="Ask for an operations report"
)
async def ask(body: ReportIn, view: ViewDep, who: CallerDep, _: str = require(*ROLES)) -> dict[str, Any]:
    d = desk_of(view)
    try:
        req = d.ask(body.kind, body.period, who.actor)
    except PeriodError as e:
        raise ApiError(422, e.code, str(e), period=body.period, forms=FORMS) from None
    if req.new:
        # the figures read here (the stores' connections are the event loop's), the files written
        # off it; a request for the same report meanwhile gets this one's id
        report = d.build(req, who.actor)
        if report is not None:
            d.finish(req, await asyncio.get_running_loop().run_in_executor(None, d.write, req, report))
    row = d.repo.get(req.id)
    assert row is not None
    return _out(view, d, row)


@router.get("/reports", response_model=list[ReportOut], summary="The reports asked for, newest first")
async def listing(view: ViewDep, _: str = require(*ROLES)) -> list[dict[str, Any]]:
    d = desk_of(view)
    rows = d.repo.list()
    sent = d.repo_runs.deliveries(r["id"] for r in rows) if d.repo_runs else {}
    return [_out(view, d, r, sent.get(r["id"], [])) for r in rows]


@router.get("/reports/schedule", response_model=ScheduleOut, summary="The scheduled reports' next and last runs")
async def planned(view: ViewDep, _: str = require(*ROLES)) -> dict[str, Any]:
    s = view.served(Scheduler)
    if s is None:
        raise ApiError(409, "no_reports", "operations reports are not running in this gateway")
    cfg = view.cfg.reports
    runs = []
    for p in s.plan():
        last = p.last and {
            "period": p.last["period"],
            "state": p.last["state"],
            "attempts": p.last["attempts"],
            "report": p.last["report_id"],
            "retry_at": iso(view, p.last["next_ns"]),
            "note": p.last["note"],
        }
        runs.append({"kind": p.kind, "at": p.at, "next": {"period": p.next.span.label, "at": iso(view, p.next.at_ns)},
                     "last": last})  # fmt: skip
    return {
        "enabled": cfg.schedule.enabled,
        "timezone": view.cfg.timezone,
        "week_day": cfg.schedule.week_day,
        "retries": cfg.schedule.retries,
        "runs": runs,
        "delivery": [c for c in ("robot", "email") if getattr(cfg.delivery, c) is not None],
    }


@router.get(
    "/reports/{ref}",
    response_model=ReportOut,
    responses={404: {"description": "`unknown_report`"}, 409: {"description": "`report_not_ready`"}},
    summary="A report's state; with .json, .xlsx or .pdf its file",
)
async def one(ref: str, view: ViewDep, _: str = require(*ROLES)) -> Any:
    d = desk_of(view)
    m = REF.match(ref)
    row = d.repo.get(int(m[1])) if m else None
    if m is None or row is None:
        raise ApiError(404, "unknown_report", f"no report {ref}", report=ref)
    fmt = m[2]
    if fmt is None:
        return _out(view, d, row)
    path = d.file(row["id"], fmt)
    if path is None:
        status = row["status"] if fmt != "pdf" or row["status"] != "done" else "no_pdf"
        raise ApiError(
            409,
            "report_not_ready",
            f"report {row['id']} has no {fmt} ({status})",
            report=row["id"],
            fmt=fmt,
            status=status,
        )
    name = f"report-{row['kind']}-{row['period']}.{fmt}"
    # both forms: filename*= is what the pages' download (HG.download) reads
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    return Response(path.read_bytes(), media_type=MEDIA[fmt], headers={"Content-Disposition": disposition})
