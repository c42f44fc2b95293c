"""The manager's ledger page and the person's own, beside the ledger's routes (api.py): one record
with its trail and photo, the ledger as a file, the view by department (who is at or near the
three strikes), a person's own records, and who read the named ledger. Every read of names is
audited (reads.py); the audit of those reads is for managers and admins only."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from gateway import staff_registry
from gateway.api import export as files
from gateway.api.deps import CallerDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.period import RowId, moment
from gateway.domain import discipline as d
from gateway.features.discipline.api import MANAGERS, Kind, State, ViolationOut, _names, _out, filters, find, ledger_of
from gateway.features.discipline.reads import audited, own_view
from gateway.i18n.catalogue import label

router = APIRouter(tags=["discipline"])


class RecordOut(ViolationOut):
    photo: bool  # GET /api/v1/violations/{id}/photo has it
    notice: int | None  # its 整改通知单's id, if one was issued


class PersonOut(BaseModel):
    staff: str
    name: str | None
    count: int  # confirmed (counted) in the strikes' current period
    limit: int
    standing: Literal["reached", "near", "below"]  # at the limit; one short of it; further


class DepartmentOut(BaseModel):
    department: str
    period: str
    count: int  # its people's counted violations in the period
    open: int  # detected, not yet confirmed or dismissed (any time)
    people: list[PersonOut]


class ReadOut(BaseModel):
    id: int
    at: str | None
    actor: str
    role: str
    what: str  # ledger, own, record, photo, strikes, summary, notices, export, departments
    filter: dict[str, Any]
    ids: list[int]


@router.get("/violations/mine", response_model=list[RecordOut], summary="A person's own violations, with their trail")
async def mine(view: ViewDep, who: CallerDep, _: str = require("staff")) -> list[dict[str, Any]]:
    staff = who.staff or who.actor
    led = ledger_of(view)
    rows = [led.repo.get(v["id"]) for v in led.repo.find(staff=staff, limit=1000)]
    audited(view, who, "own", {"staff": staff}, [v["id"] for v in rows if v])
    own = _names(view).get(staff)
    names = {staff: own} if own else {}  # their own name, nobody else's
    return [_record(view, own_view(v, staff), names) for v in rows if v]


def _record(view: Any, v: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    patrol = view.journal.repos.patrol
    notice = patrol.notice_of(v["id"])
    return {**_out(view, v, names), "photo": patrol.photo(v["id"]) is not None, "notice": notice and notice["id"]}


@router.get(
    "/violations/export",
    response_class=Response,
    responses={200: {"content": {files.XLSX: {}, "text/csv": {}}}},
    summary="The ledger as shown (the same filters) as an XLSX or CSV file",
)
async def export(
    view: ViewDep,
    who: CallerDep,
    _: str = require(*MANAGERS),
    start: Annotated[str | None, Query(description="from this date or time (hall time)")] = None,
    end: Annotated[str | None, Query(description="before this date or time")] = None,
    state: State | None = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    kind: Kind | None = None,
    format: files.Format = "xlsx",
) -> Response:
    rows = find(view, start, end, state, staff, department, kind, 5000)
    audited(view, who, "export", filters(start, end, state, staff, department, kind), [v["id"] for v in rows])
    names = _names(view)
    columns = [files.Column(t) for t in ("编号", "类型", "工号", "姓名", "科室", "窗口")]
    columns += [files.Column("发生时间", "datetime"), files.Column("状态"), files.Column("裁定"), files.Column("计入")]
    out = [
        [v["id"], label("violation_kind", v["kind"]), v["staff"], names.get(v["staff"], ""), v["department"],
         v["window"] or "", files.local_time(iso(view, v["at_ns"])), label("violation_state", v["state"]),
         label("violation_outcome", v["outcome"]) if v["outcome"] else "",
         "是" if d.counts(v["state"], v["outcome"]) else "否"]
        for v in rows
    ]  # fmt: skip
    return files.export("违规台账", format, columns, out)


@router.get(
    "/violations/departments",
    response_model=list[DepartmentOut],
    summary="Each department's counted violations in the strikes' period, per person, who is at or near the limit",
)
async def departments(view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)) -> list[dict[str, Any]]:
    led = ledger_of(view)
    names = _names(view)
    counted = led.strikes_now(time.time_ns())
    dept_of = {p.id: p.department for p in staff_registry.people(view.cfg, view.journal)}
    waiting = led.repo.find(state="detected", limit=100000)
    out: dict[str, dict[str, Any]] = {}
    for s in counted:
        last = led.repo.get(s["violations"][-1])  # a person the registry lost: their record's department
        dept = dept_of.get(s["staff"]) or (last or {}).get("department") or ""
        o = out.setdefault(dept, {"department": dept, "period": s["period"], "count": 0, "open": 0,
                                        "people": []})  # fmt: skip
        o["count"] += s["count"]
        standing = "reached" if s["count"] >= s["limit"] else "near" if s["count"] == s["limit"] - 1 else "below"
        o["people"].append({"staff": s["staff"], "name": names.get(s["staff"]), "count": s["count"],
                            "limit": s["limit"], "standing": standing})  # fmt: skip
    period = counted[0]["period"] if counted else ""
    for v in waiting:
        out.setdefault(v["department"], {"department": v["department"], "period": period, "count": 0, "open": 0,
                                         "people": []})["open"] += 1  # fmt: skip
    audited(view, who, "departments", {}, [i for s in counted for i in s["violations"]])
    return sorted(out.values(), key=lambda o: (-o["count"], o["department"]))


@router.get(
    "/violations/reads",
    response_model=list[ReadOut],
    summary="Who read the named ledger: each read of names, its reader, what and when, newest first",
)
async def reads(
    view: ViewDep,
    _: str = require("manager", "admin"),
    actor: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[str | None, Query(description="from this date or time (hall time)")] = None,
    end: Annotated[str | None, Query(description="before this date or time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    rows = view.journal.repos.ledger_reads.find(
        actor=actor,
        start_ns=moment(view, start, "start") if start else None,
        end_ns=moment(view, end, "end") if end else None,
        limit=limit,
    )
    return [{**{k: r[k] for k in r if k != "at_ns"}, "at": iso(view, r["at_ns"])} for r in rows]


@router.get(
    "/violations/{violation_id}",
    response_model=RecordOut,
    responses={404: {"description": "`unknown_violation`"}},
    summary="One violation with its evidence, its trail (every step: who, when, why) and whether it has a photo",
)
async def record(violation_id: RowId, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)) -> dict[str, Any]:
    v = ledger_of(view).repo.get(violation_id)
    if v is None:
        raise ApiError(404, "unknown_violation", f"no violation {violation_id}", violation=violation_id)
    audited(view, who, "record", {}, [violation_id])
    return _record(view, v, _names(view))
