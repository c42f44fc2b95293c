"""Attendance (考勤): who is on each window post now, and each person's day."""

from __future__ import annotations

import time
from datetime import date as Date
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from gateway import staff_registry
from gateway.api.deps import PublicRoleDep, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.export import XLSX, Column, Format, export, local_time
from gateway.api.routes.period import IsoDate, in_years
from gateway.domain.names import public_name
from gateway.i18n.catalogue import label
from gateway.view import View

router = APIRouter(tags=["attendance"])
DateQuery = Annotated[IsoDate | None, Query(description="default: today (hall time)")]
EXPORT_COLUMNS = (
    Column("工号"),
    Column("首次签到", "datetime"),
    Column("最后签退", "datetime"),
    Column("迟到"),
    Column("早退"),
    Column("缺卡"),
    Column("打卡次数", "int"),
)


class PostOut(BaseModel):
    window: str
    a: str | None  # staff ids: null for the wall's `viewer`
    b: str | None
    on_post: str | None
    name: str | None  # who is on post, from the staff registry (`staff`); for `viewer` masked (api.wall)
    since: str | None  # on it since, or empty since
    covered_by_b: bool
    empty: bool
    absence_minutes_today: float  # working time (lunch excluded) with nobody on it
    current_absence_minutes: float
    over_limit: bool  # 空岗: empty longer than attendance.absence_limit_min in working time


class PersonDayOut(BaseModel):
    staff_id: str
    first_in: str | None
    last_out: str | None
    late: bool
    early_leave: bool
    missing: list[str]
    punches: int


class DailyOut(BaseModel):
    date: Date
    working_day: bool
    people: list[PersonDayOut]
    set_aside: dict[str, int]  # punches with impossible dates (clock resets), all days, by why


def _attendance(view: View) -> Any:
    p = view.projection("attendance")
    if p is None or p.store is None:
        raise ApiError(404, "no_attendance_machines", "this hall has no attendance machines configured")
    return p


@router.get(
    "/attendance/posts",
    responses={404: {"description": "this hall has no attendance machines"}},
    response_model=list[PostOut],
    summary="Each window post: who is on it, since when",
)
async def posts(view: ViewDep, role: PublicRoleDep) -> list[dict[str, Any]]:
    p = _attendance(view)
    now = time.time_ns()
    names = staff_registry.names(view.cfg, view.journal)
    public = role == "viewer"  # the wall in the public hall: a name (masked), never a staff id
    mask = public and view.cfg.api.wall.mask_names
    return [
        {
            "window": s.window,
            "a": None if public else s.a,
            "b": None if public else s.b,
            "on_post": None if public else s.on_post,
            "name": public_name(s.on_post, names, mask),
            "since": iso(view, s.since_ns),
            "covered_by_b": s.covered,
            "empty": s.on_post is None,
            "absence_minutes_today": round(s.absence_s_today / 60, 1),
            "current_absence_minutes": round(s.current_absence_s / 60, 1),
            "over_limit": p.over_limit(s, now),
        }
        for s in p.post_states(now)
    ]


@router.get(
    "/attendance/daily",
    responses={404: {"description": "this hall has no attendance machines"}},
    response_model=DailyOut,
    summary="Per person: first in, last out, late, early leave, missing punches",
    dependencies=[require("duty_manager", "manager")],
)
async def daily(view: ViewDep, date: DateQuery = None) -> dict[str, Any]:
    return daily_of(view, date)


@router.get(
    "/attendance/daily/export",
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "one row per person"},
        404: {"description": "this hall has no attendance machines"},
    },
    response_class=Response,
    summary="A day's attendance per person as a file: CSV or XLSX (the manager page's 导出)",
    dependencies=[require("duty_manager", "manager")],
)
async def daily_export(view: ViewDep, date: DateQuery = None, format: Format = "csv") -> Response:
    d = daily_of(view, date)
    yes = {True: "是", False: ""}
    rows = [
        [
            p["staff_id"],
            local_time(p["first_in"]),
            local_time(p["last_out"]),
            yes[p["late"]],
            yes[p["early_leave"]],
            missing(p["missing"]),
            p["punches"],
        ]
        for p in d["people"]
    ]
    return export(f"考勤_{d['date'].isoformat()}", format, EXPORT_COLUMNS, rows)


def missing(codes: list[str]) -> str:
    """The missing punches as the page shows them: by their Chinese labels."""
    return "、".join(label("missing_punch", m) for m in codes)


def daily_of(view: View, date: Date | None) -> dict[str, Any]:
    p = _attendance(view)
    now = time.time_ns()
    # The years every other date parameter takes (those an int64 of nanoseconds holds): 422 outside.
    d = in_years(date, "date") if date else datetime.fromtimestamp(now / 1e9, ZoneInfo(view.timezone)).date()
    return {
        "date": d,
        "working_day": p.calendar.is_working(d),
        "people": [
            {
                "staff_id": r.staff,
                "first_in": iso(view, r.first_in_ns),
                "last_out": iso(view, r.last_out_ns),
                "late": r.late,
                "early_leave": r.early_leave,
                "missing": r.missing,
                "punches": r.punches,
            }
            for r in p.daily(d, now)
        ],
        "set_aside": p.set_aside(),
    }
