"""Occupancy: each zone and the whole hall now, their history, and a live stream of changes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep, RoleDep, ViewDep, iso
from gateway.api.errors import ApiError
from gateway.api.export import XLSX, Column, Format, export, local_time
from gateway.api.routes.period import IsoDateTime, epoch_ns
from gateway.domain.occupancy import HALL
from gateway.domain.occupancy_agreement import agreement, counters_of
from gateway.kinds.people_counter.history import (
    MAX_POINTS,
    HistoryError,
    Point,
    Step,
    every_step,
    from_influx,
    roll_up,
    step_start,
)
from gateway.view import View, ZoneSnapshot

log = logging.getLogger(__name__)
router = APIRouter(tags=["occupancy"])

KEEPALIVE_S = 15.0  # a comment line now and then, so proxies keep an idle stream open
STEP_NS = {"minute": 60 * 10**9, "hour": 3600 * 10**9, "day": 86400 * 10**9}
EXPORT_COLUMNS = (Column("时段开始", "datetime"), Column("进入", "int"), Column("离开", "int"), Column("人数", "int"))
ZoneQuery = Annotated[str, Query(description="a zone id, or '*' for the whole hall")]
StartQuery = Annotated[IsoDateTime | None, Query(description="default: 24 hours before end")]
EndQuery = Annotated[IsoDateTime | None, Query(description="default: now")]


class DriftOut(BaseModel):
    clamped: int  # how far below zero in - out went since the last reset (hidden by the floor at 0)
    last_reset_at: str | None
    residual: int | None  # what the zone still showed at its last reset: that day's drift
    residual_clamped: int | None


class WhyOut(BaseModel):
    code: str  # clamped, hall_clamped, reset_apart, no_counter, counter_suspect
    zone: str  # zone id(s), or "*" for the hall
    people: int  # how much of the difference it explains (0: a figure in doubt)
    counters: list[str]
    detail: str


class AgreementOut(BaseModel):
    """The hall's figure against the sum of the zones' (gateway/domain/occupancy_agreement.py)."""

    hall: int
    zones_sum: int
    difference: int  # zones_sum - hall
    unexplained: int  # of the difference, what no reason explains (0 when every figure counts from one reset)
    reasons: list[WhyOut]


class ZoneOut(BaseModel):
    zone: str
    name: str
    scope: Literal["zone", "hall"]
    occupancy: int
    capacity: int
    percent: float
    over_capacity: bool
    entered: int
    left: int
    net: int
    drift: DriftOut
    suspect: bool
    suspect_reasons: list[str]
    updated_at: str | None
    counters: list[str]  # the counters whose flows make this figure (the hall: the doorways to the outside)
    agreement: AgreementOut | None = None  # the hall only


def agreement_out(view: View, now_ns: int) -> dict[str, Any] | None:
    proj = view.occupancy
    if proj is None:
        return None
    occ = proj.occupancy
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, now_ns)
    reasons = [{**asdict(w), "counters": list(w.counters)} for w in a.reasons]
    return {
        "hall": a.hall,
        "zones_sum": a.zones_sum,
        "difference": a.difference,
        "unexplained": a.unexplained,
        "reasons": reasons,
    }


def zone_out(view: View, z: ZoneSnapshot) -> dict[str, Any]:
    proj = view.occupancy
    counters = counters_of(z.zone, proj.occupancy.doorways) if proj is not None else []
    extra = {"agreement": agreement_out(view, time.time_ns())} if z.zone == HALL else {}
    return {
        "counters": counters,
        **extra,
        "zone": z.zone,
        "name": z.name,
        "scope": "hall" if z.zone == HALL else "zone",
        "occupancy": z.occupancy,
        "capacity": z.capacity,
        "percent": round(100 * z.occupancy / z.capacity, 1),
        "over_capacity": z.over_capacity,
        "entered": z.entered,
        "left": z.left,
        "net": z.entered - z.left,
        "drift": {
            "clamped": z.clamped,
            "last_reset_at": iso(view, z.reset_ns),
            "residual": z.residual,
            "residual_clamped": z.residual_clamped,
        },
        "suspect": bool(z.suspect),
        "suspect_reasons": list(z.suspect),
        "updated_at": iso(view, z.updated_ns),
    }


@router.get(
    "/occupancy",
    response_model=list[ZoneOut],
    summary="People in each zone now",
    description="Occupancy is in minus out since the last nightly reset, never below 0; `drift.clamped` "
    "says how far below 0 it would have gone. `suspect` is true while a counter on the zone's boundary "
    "reports a fault (lens blocked, tampered, too dark) or has sent no sample for a while.",
)
async def occupancy(view: ViewDep, _: PublicRoleDep) -> list[dict[str, Any]]:
    return [zone_out(view, z) for z in view.zones() if z.zone != HALL]


@router.get(
    "/occupancy/hall",
    response_model=ZoneOut,
    summary="People in the whole hall now (net flow through its outside doors)",
    description="The same figures as a zone's, for the doorways with no `from_zone` (zone id '*'); its "
    "capacity is `occupancy.hall_capacity`, by default the sum of the zones' capacities.",
)
async def hall(view: ViewDep, _: PublicRoleDep) -> dict[str, Any]:
    return next(zone_out(view, z) for z in view.zones() if z.zone == HALL)


class HistoryPointOut(BaseModel):
    start: str
    entered: int
    left: int
    occupancy: int | None
    clamped: int | None


class HistoryOut(BaseModel):
    zone: str
    step: Step
    start: str
    end: str
    source: Literal["influxdb", "gateway"]
    note: str | None = None
    points: list[HistoryPointOut]


@router.get(
    "/occupancy/history",
    response_model=HistoryOut,
    summary="In, out and occupancy of a zone (or the hall) per minute, hour or day",
    description="From InfluxDB when the gateway writes to InfluxDB 1.x, else (or when it cannot answer) "
    "from the gateway's own per-minute history (`occupancy.history_days`). Hours and days are the "
    "hall's own. Times without an offset are the hall's local time.",
)
async def history(
    view: ViewDep,
    _: PublicRoleDep,
    zone: ZoneQuery = HALL,
    start: StartQuery = None,
    end: EndQuery = None,
    step: Step = "hour",
) -> dict[str, Any]:
    return await history_of(view, zone, start, end, step)


@router.get(
    "/occupancy/history/export",
    summary="The occupancy history as a file: CSV or XLSX (the manager page's 导出)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "one row per step"}},
)
async def history_export(
    view: ViewDep,
    _: RoleDep,
    zone: ZoneQuery = HALL,
    start: StartQuery = None,
    end: EndQuery = None,
    step: Step = "hour",
    format: Format = "csv",
) -> Response:
    h = await history_of(view, zone, start, end, step, gaps=True)
    rows = [[local_time(p["start"]), p["entered"], p["left"], p["occupancy"]] for p in h["points"]]
    return export(f"客流历史_{'全厅' if zone == HALL else zone}", format, EXPORT_COLUMNS, rows)


async def history_of(
    view: View, zone: str, start: datetime | None, end: datetime | None, step: Step, gaps: bool = False
) -> dict[str, Any]:
    tz = view.timezone
    if zone not in view.zone_ids():
        zones = ", ".join(view.zone_ids())
        raise ApiError(
            422,
            "invalid_request",
            f"unknown zone {zone!r}: use one of {zones}",
            field=f"没有区域 {zone}（可选：{zones}）",
        )
    end_ns = epoch_ns(end, tz, "end") if end else time.time_ns()
    start_ns = epoch_ns(start, tz, "start") if start else end_ns - int(timedelta(hours=24).total_seconds() * 1e9)
    if start_ns >= end_ns:
        raise ApiError(422, "invalid_request", "start must be before end", field="start 应早于 end")
    if (end_ns - start_ns) // STEP_NS[step] > MAX_POINTS:
        raise ApiError(
            422,
            "invalid_request",
            f"more than {MAX_POINTS} steps: choose a larger step or a shorter range",
            field=f"超过 {MAX_POINTS} 个点：请选更大的粒度或更短的时间段",
        )
    # Whole steps: the first one starts where its step starts.
    start_ns = step_start(start_ns, step, tz)
    source, note = "gateway", None
    points: list[Point] | None = None
    if view.cfg.influx.api == "v1":
        try:
            points = await from_influx(view.cfg.influx, view.site, zone, start_ns, end_ns, step, tz)
            source = "influxdb"
        except HistoryError as e:
            log.warning("occupancy history from InfluxDB failed (%s); answered from the gateway's own", e)
            note = f"InfluxDB could not answer ({e}); from the gateway's own history"
    if points is None:
        points = roll_up(view.zone_minutes(zone, start_ns, end_ns), step, tz)
    if gaps:  # every step up to now, as the page's chart draws them
        points = every_step(points, start_ns, min(end_ns, time.time_ns()), step, tz)
    return {
        "zone": zone,
        "step": step,
        "start": iso(view, start_ns),
        "end": iso(view, end_ns),
        "source": source,
        "note": note,
        "points": [
            {
                "start": iso(view, p.start_ns),
                "entered": p.entered,
                "left": p.left,
                "occupancy": p.occupancy,
                "clamped": p.clamped,
            }
            for p in points
        ],
    }


@router.get(
    "/occupancy/stream",
    summary="Live occupancy changes (Server-Sent Events)",
    description="First an `occupancy` event with every zone and the hall, then one with the zones that "
    "changed, as soon as a counter sample changes them. A comment line every 15 s keeps an idle stream "
    "open. The stream ends when the gateway stops.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "a stream of `occupancy` events"}},
)
async def stream(view: ViewDep, _: PublicRoleDep, request: Request) -> StreamingResponse:
    return StreamingResponse(
        _events(view),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(data: Any) -> bytes:
    return f"event: occupancy\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _without_time(z: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if z is None else {k: v for k, v in z.items() if k != "updated_at"}


async def _events(view: View) -> AsyncIterator[bytes]:
    """Starlette cancels this generator when the client leaves; it returns when the gateway stops."""
    stopping = asyncio.ensure_future(view.stopping.wait())
    try:
        with view.zone_changes() as changed:
            sent: dict[str, dict[str, Any]] = {}
            while not view.stopping.is_set():
                changed.clear()
                now = [zone_out(view, z) for z in view.zones()]
                # A sample that changes nothing only moves updated_at: not worth an event.
                fresh = [z for z in now if _without_time(sent.get(z["zone"])) != _without_time(z)]
                if fresh:
                    sent.update((z["zone"], z) for z in fresh)
                    yield _sse(fresh)
                waiter = asyncio.ensure_future(changed.wait())
                try:
                    done, _ = await asyncio.wait(
                        {waiter, stopping}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
                if not done:
                    yield b": keepalive\n\n"
    finally:
        stopping.cancel()
