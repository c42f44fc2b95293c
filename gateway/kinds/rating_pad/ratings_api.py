"""Ratings (好差评): figures for any period and group, and the ratings themselves, paged."""

from __future__ import annotations

import time
from datetime import date as Date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep, RoleDep, ViewDep, iso, refuse_viewer
from gateway.api.errors import ApiError
from gateway.api.routes.period import INT64_MAX, ISO_PATTERN, IsoDate, period
from gateway.domain.ratings import Figures
from gateway.kinds.rating_pad.visit_rates import NO_VISITS, against_visits
from gateway.kinds.reads import Visits
from gateway.view import View

router = APIRouter(tags=["ratings"])

By = Literal["window", "staff", "item", "zone", "day", "line"]  # line: of the visit a rating names
PRIVATE_GROUPS = ("window", "staff")


class FiguresOut(BaseModel):
    key: str | None = None
    rated: int
    unrated: int
    rating_rate: float | None
    good_rate: float | None
    bad_rate: float | None
    scores: dict[str, int]
    mean: float | None
    bad_reasons: dict[str, int]
    no_case_id: int


class VisitRatesOut(BaseModel):
    key: str | None = None
    served: int  # visits served (finished) that began in the period
    rated: int  # of them, named by a rating
    unrated: int  # named only by expired prompts
    not_asked: int
    rating_rate: float | None  # 评价率: rated / served


class VisitsOut(BaseModel):
    total: VisitRatesOut
    groups: list[VisitRatesOut]  # by the visit's own window, staff, item, line, day (zone: of its window's pad)
    ratings_without_visit: int  # the period's ratings that name no served visit (yet)


class MissingOut(BaseModel):
    code: str
    message: str


class ThresholdsOut(BaseModel):
    """The hall's 好评率 colours (`ratings.good_rate_ok` / `good_rate_low`): green at or above ok,
    red below low, amber between."""

    good_rate_ok: float
    good_rate_low: float


class SummaryOut(BaseModel):
    start: str | None
    end: str | None
    by: By | None
    total: FiguresOut
    groups: list[FiguresOut]
    duplicates: int | None  # other ratings of cases already rated, left out (without a window filter)
    visits: VisitsOut | None  # 评价率 against the served visits; None when the hall has no source of them
    visits_missing: MissingOut | None  # why `visits` is None
    thresholds: ThresholdsOut


class RatingOut(BaseModel):
    id: int
    at: str | None
    rated: bool
    device: str
    case_id: str
    no_case_id: bool
    window: str
    staff_id: str
    item: str
    zone: str
    ticket: str
    score: int | None
    reasons: list[str]


def ratings_of(view: View) -> Any:
    p = view.projection("ratings")
    if p is None or p.store is None:
        raise ApiError(404, "no_rating_pads", "this hall has no rating pads configured")
    return p


@router.get(
    "/ratings/summary",
    responses={
        403: {"description": "a kiosk token; or the wall's `viewer` asking by window or staff, or for one window"},
        404: {"description": "this hall has no rating pads, or (`no_visits`, by=line) no source of visits"},
    },
    response_model=SummaryOut,
    summary="Rating figures for a period, by group",
)
async def summary(
    view: ViewDep,
    role: PublicRoleDep,
    by: By | None = None,
    start: Annotated[
        str | None, Query(pattern=ISO_PATTERN, description="date or time (hall time); default: today")
    ] = None,
    end: Annotated[str | None, Query(pattern=ISO_PATTERN, description="date or time, exclusive; default: now")] = None,
    date: Annotated[IsoDate | None, Query(description="one day (instead of start/end)")] = None,
    window: str | None = None,
) -> dict[str, Any]:
    return summary_of(view, role, by, start, end, date, window)


def summary_of(
    view: View, role: str, by: By | None, start: str | None, end: str | None, date: Date | None, window: str | None
) -> dict[str, Any]:
    # The wall shows the hall's figures (by zone, item or day); per window or person they name a clerk.
    if by in PRIVATE_GROUPS or window is not None:
        refuse_viewer(role, "rating figures per window or per person")
    p = ratings_of(view)
    a, b = period(view, start, end, date, time.time_ns())
    visits = view.projections.reads(Visits)
    if by == "line" and visits is None:
        raise ApiError(404, "no_visits", NO_VISITS["message"])
    joined = None
    if visits is not None:
        zone_of = {w: p.zones[d] for d, w in p.windows.items()}
        joined = against_visits(p.store, visits, a, b, by, window, zone_of)
    groups, duplicates = p.store.summary(a, b, None if by == "line" else by, window)
    if joined is not None and by == "line":
        groups = joined.by_line
    total = Figures()
    for f in groups.values():
        total.rated += f.rated
        total.unrated += f.unrated
        total.score_sum += f.score_sum
        total.no_case_id += f.no_case_id
        total.bad_reasons.update(f.bad_reasons)
        for s, n in f.scores.items():
            total.scores[s] += n
    return {
        "start": iso(view, a),
        "end": iso(view, b),
        "by": by,
        "total": total.out(),
        "groups": [{"key": k, **f.out()} for k, f in sorted(groups.items())] if by else [],
        "duplicates": duplicates if window is None else None,
        "visits": None
        if joined is None
        else {
            "total": joined.total.out(),
            "groups": [{"key": k, **f.out()} for k, f in sorted(joined.groups.items())],
            "ratings_without_visit": joined.without_visit,
        },
        "visits_missing": NO_VISITS if joined is None else None,
        "thresholds": {"good_rate_ok": view.cfg.ratings.good_rate_ok, "good_rate_low": view.cfg.ratings.good_rate_low},
    }


@router.get(
    "/ratings",
    responses={404: {"description": "this hall has no rating pads"}},
    response_model=list[RatingOut],
    summary="Ratings and expired prompts, newest first, paged",
)
async def ratings(
    view: ViewDep,
    _: RoleDep,
    window: str | None = None,
    score: Annotated[int | None, Query(ge=1, le=5)] = None,
    start: Annotated[
        str | None, Query(pattern=ISO_PATTERN, description="date or time (hall time); default: today")
    ] = None,
    end: Annotated[str | None, Query(pattern=ISO_PATTERN, description="date or time, exclusive; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="page: ids below this")] = None,
) -> list[dict[str, Any]]:
    p = ratings_of(view)
    a, b = period(view, start, end, None, time.time_ns())
    rows = p.store.ratings(start_ns=a, end_ns=b, window=window, score=score, limit=limit, before_id=before_id)
    return [
        {
            "id": i,
            "at": iso(view, r.ts_ns),
            "rated": r.rated,
            "device": r.device,
            "case_id": r.case_id,
            "no_case_id": r.no_case_id,
            "window": r.window,
            "staff_id": r.staff,
            "item": r.item,
            "zone": r.zone,
            "ticket": r.ticket,
            "score": r.score,
            "reasons": list(r.reasons),
        }
        for i, r in rows
    ]
