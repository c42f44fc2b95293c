"""The routes of the people's side of the ledger (巡查): record a violation, its photo, the
整改通知单 and its signature, and the counts of confirmed violations. Recording, photos, notices
and counts are for the duty manager and managers (patrol staff sign in as duty managers: the
product brief gives them the same work); a notice is signed by its own person with a staff token
or account named by their staff id."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from gateway.api.deps import CallerDep, NoteText, ViewDep, iso, require
from gateway.api.errors import ApiError
from gateway.api.routes.period import ISO_PATTERN, RowId, moment
from gateway.domain import patrol as p
from gateway.features.discipline import photos
from gateway.features.discipline.api import MANAGERS, ViolationOut, _names, _out, ledger_of
from gateway.features.discipline.ledger import period_of
from gateway.features.discipline.reads import audited
from gateway.features.discipline.rounds import Rounds
from gateway.i18n.catalogue import label
from gateway.view import View

router = APIRouter(tags=["discipline"])

# The photo route's body may be this big (the file and its multipart envelope); every other route
# keeps the API's 64 KiB (gateway/api/app.py BodyLimit).
PHOTO_BODY_MAX = p.PHOTO_MAX_BYTES + 64 * 1024
PHOTO_PATH = re.compile(r"^/api/v1/violations/\d{1,19}/photo$")


class RecordIn(BaseModel):
    staff_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(
        min_length=1, max_length=32, description="工作准备不到位, 工作时间离岗超时, 串岗聊天, 违规使用手机, 其他"
    )
    note: NoteText = Field(min_length=1, max_length=2000, description="what was seen")
    at: str | None = Field(None, pattern=ISO_PATTERN, max_length=40, description="when (hall time); now if left out")
    where: NoteText | None = Field(None, max_length=100, description="a window id or a place in the hall")


class PhotoOut(BaseModel):
    violation: int
    digest: str  # SHA-256 of the stored file (EXIF removed)
    type: Literal["jpeg", "png"]
    bytes: int
    by: str
    at: str | None


class NoticeIn(BaseModel):
    text: NoteText = Field(min_length=1, max_length=2000, description="what to put right")
    deadline: str = Field(pattern=ISO_PATTERN, max_length=40, description="sign it by then (hall time)")


class AckIn(BaseModel):
    note: NoteText = Field("", max_length=2000, description="the person's word, if any")


class NoticeOut(BaseModel):
    id: int
    violation: int
    staff: str
    name: str | None
    text: str
    deadline: str | None
    state: Literal["open", "overdue", "acknowledged"]
    issued_by: str
    issued_at: str | None
    acked_by: str | None
    acked_at: str | None
    ack_note: str | None


class CountOut(BaseModel):
    key: str  # the department, staff id or kind code
    label: str | None  # the person's name, the kind's Chinese name
    count: int


class SummaryOut(BaseModel):
    by: Literal["department", "staff", "kind"]
    start: str | None
    end: str | None
    total: int
    rows: list[CountOut]


def rounds_of(view: View) -> Rounds:
    r = view.served(Rounds)
    if r is None:
        raise ApiError(409, "no_ledger", "the discipline ledger is not running in this gateway")
    return r


def _run(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except photos.Refused as e:
        raise ApiError(e.status, e.code, e.detail, **e.params) from None


@router.post(
    "/violations",
    response_model=ViolationOut,
    status_code=201,
    summary="Record a violation seen on a round (巡查), detected until a duty manager or manager confirms it",
)
async def record(body: RecordIn, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)) -> dict[str, Any]:
    at = moment(view, body.at, "at") if body.at else None
    vid = _run(rounds_of(view).record, body.staff_id, body.kind, body.note, at, body.where, (who.actor, who.role))
    v = ledger_of(view).repo.get(vid)
    return _out(view, v, _names(view))


PHOTO_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "`photo_form`: more than one file or field, or no file `photo`"},
    404: {"description": "`unknown_violation`"},
    409: {"description": "`photo_exists`: the violation has its photo"},
    413: {"description": "`photo_too_large`: over 2 MB; `too_large`: a body over the upload's bound"},
    415: {"description": "`photo_type`: an image but not JPEG or PNG; `photo_not_image`; `photo_form`: not multipart"},
}


@router.post(
    "/violations/{violation_id}/photo",
    response_model=PhotoOut,
    status_code=201,
    responses=PHOTO_ERRORS,
    summary="Attach a photo (multipart field `photo`, JPEG or PNG by content, at most 2 MB; EXIF removed)",
)
async def add_photo(
    violation_id: RowId, request: Request, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)
) -> dict[str, Any]:
    rounds = rounds_of(view)
    _run(rounds.violation, violation_id)
    data = await _one_file(request)
    try:
        clean = await asyncio.to_thread(photos.clean, data)  # a full decode: off the event loop
    except photos.Refused as e:
        raise ApiError(e.status, e.code, e.detail, **e.params) from None
    meta = _run(rounds.add_photo, violation_id, clean, (who.actor, who.role))
    return {**{k: meta[k] for k in ("digest", "type", "bytes")}, "violation": violation_id, "by": meta["actor"],
            "at": iso(view, meta["at_ns"])}  # fmt: skip


async def _one_file(request: Request) -> bytes:
    """The upload's one file. The body is bounded before it is read (BodyLimit: PHOTO_BODY_MAX);
    the form parser takes one file and one field at most, so a body of many parts is refused
    without building them."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "photo_form", "send multipart/form-data with one file field `photo`")
    try:
        form = await request.form(max_files=1, max_fields=1)
    except (MultiPartException, HTTPException) as e:
        if isinstance(e, HTTPException) and e.status_code == 413:
            raise
        raise ApiError(400, "photo_form", f"the multipart body: {getattr(e, 'message', None) or e}") from None
    try:
        f = form.get("photo")
        if not isinstance(f, UploadFile):
            raise ApiError(400, "photo_form", "no file field `photo`")
        return await f.read(p.PHOTO_MAX_BYTES + 1)  # one byte more than allowed shows it is too big
    finally:
        await form.close()


@router.get(
    "/violations/{violation_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    summary="A violation's photo as stored (EXIF removed)",
)
async def get_photo(violation_id: RowId, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)) -> Response:
    meta, data = _run(rounds_of(view).photo, violation_id)
    audited(view, who, "photo", {}, [violation_id])
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff", "ETag": f'"{meta["digest"]}"'}
    return Response(data, media_type=photos.MEDIA[meta["type"]], headers=headers)


@router.get("/violations/summary", response_model=SummaryOut, summary="Counts of confirmed violations in a period")
async def summary(
    view: ViewDep,
    who: CallerDep,
    by: Literal["department", "staff", "kind"] = "department",
    start: Annotated[str | None, Query(description="from this date or time; default the strikes' period")] = None,
    end: Annotated[str | None, Query(description="before this date or time")] = None,
    _: str = require(*MANAGERS),
) -> dict[str, Any]:
    led = ledger_of(view)
    _, first, last = period_of(time.time_ns(), led.zone, led.strikes.period)
    a = moment(view, start, "start") if start else int(first.timestamp() * 1e9)
    b = moment(view, end, "end") if end else int(last.timestamp() * 1e9)
    if b < a:
        raise ApiError(422, "invalid_request", "end is before start", field="end 早于 start")
    total, rows = rounds_of(view).summary(by, a, b)
    names = _names(view) if by == "staff" else {}
    if by == "staff":  # counts by name: a read of the named ledger
        audited(view, who, "summary", {"by": by, "start": start, "end": end}, [])
    return {
        "by": by,
        "start": iso(view, a),
        "end": iso(view, b),
        "total": total,
        "rows": [{"key": k, "label": _label(by, k, names), "count": n} for k, n in rows],
    }


def _label(by: str, key: str, names: dict[str, str]) -> str | None:
    if by == "staff":
        return names.get(key)
    return label("violation_kind", key) if by == "kind" else None


# -- 整改通知单 -------------------------------------------------------------------------------------


def _notice(view: View, n: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    keep = ("id", "violation", "staff", "text", "state", "issued_by", "acked_by", "ack_note")
    return {
        **{k: n[k] for k in keep},
        "name": names.get(n["staff"]),
        "deadline": iso(view, n["deadline_ns"]),
        "issued_at": iso(view, n["issued_ns"]),
        "acked_at": iso(view, n["acked_ns"]),
    }


NOTICE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`unknown_violation`"},
    409: {"description": "`notice_state`: the violation is not confirmed; `notice_exists`: it has its notice"},
}


@router.post(
    "/violations/{violation_id}/notice",
    response_model=NoticeOut,
    status_code=201,
    responses=NOTICE_ERRORS,
    summary="Issue a rectification notice (整改通知单) from a confirmed violation, with a deadline",
)
async def issue(
    violation_id: RowId, body: NoticeIn, view: ViewDep, who: CallerDep, _: str = require(*MANAGERS)
) -> dict[str, Any]:
    deadline = moment(view, body.deadline, "deadline")
    n = _run(rounds_of(view).issue, violation_id, body.text.strip(), deadline, (who.actor, who.role))
    return _notice(view, n, _names(view))


@router.get(
    "/notices", response_model=list[NoticeOut], summary="Rectification notices, newest first (staff: their own)"
)
async def notices(
    view: ViewDep,
    who: CallerDep,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    _: str = require("staff", *MANAGERS),
) -> list[dict[str, Any]]:
    rounds = rounds_of(view)
    if who.role == "staff":
        staff = who.staff or who.actor  # a person reads their own notices only
    names = _names(view)
    rows = rounds.repo.notices(staff)
    audited(view, who, "notices", {"staff": staff}, [n["violation"] for n in rows])
    return [_notice(view, rounds.state_of(n), names) for n in rows]


@router.post(
    "/notices/{notice_id}/ack",
    response_model=NoticeOut,
    responses={404: {"description": "`unknown_notice`"}, 409: {"description": "`notice_signed`: signed already"}},
    summary="Sign a rectification notice (its own person, with a staff token or account)",
)
async def acknowledge(
    notice_id: RowId, body: AckIn, view: ViewDep, who: CallerDep, _: str = require("staff")
) -> dict[str, Any]:
    n = _run(rounds_of(view).acknowledge, notice_id, body.note.strip(), (who.staff or who.actor, who.role))
    return _notice(view, n, _names(view))
