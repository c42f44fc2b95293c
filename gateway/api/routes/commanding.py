"""What the command routes share: the audit record's schema and turning outcomes into answers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.api.errors import ApiError, body
from gateway.commands import CommandDesk, Outcome, Refused
from gateway.i18n.catalogue import part_text
from gateway.view import View


class AuditOut(BaseModel):
    id: int
    at: str
    device: str
    part: str | None
    action: str
    actor: str
    role: str
    reason: str
    outcome: str  # confirmed, failed, timeout, refused, denied; a late answer: opened_late, failed_late
    error: str | None
    latency_ms: float | None
    command_id: str | None
    amends: int | None = None  # a late answer's row: the timed-out row it amends
    amended_by: int | None = None  # a timed-out row: the late answer's row


class CommandErrorOut(BaseModel):
    """A command that did not do what was asked: why, and its audit record."""

    error: str
    message: str  # 中文 (gateway/i18n/): what happened, with the device and part
    next: str | None = None  # what to do next, where there is something to do
    detail: str
    audit: AuditOut | None = None


COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": CommandErrorOut, "description": "no Idempotency-Key header"},
    409: {"model": CommandErrorOut, "description": "the device refused (jammed, busy, bad_slot) or the part is busy"},
    503: {"model": CommandErrorOut, "description": "not sent: no broker, or no room for the audit record"},
    504: {"model": CommandErrorOut, "description": "the device did not confirm in time, or is offline"},
}


def desk_of(view: View) -> CommandDesk:
    if view.commands is None:
        raise ApiError(503, "commands_unavailable", "this gateway runs without its command desk")
    return view.commands


def need_key(key: str | None) -> str:
    if not key or not key.strip():
        raise ApiError(400, "idempotency_key_required", "send an Idempotency-Key header (e.g. a UUID) with a command")
    return key.strip()


def refused(e: Refused) -> JSONResponse:
    return JSONResponse(body(e.code, e.detail, e.params), status_code=e.status, headers=e.headers or None)


def answer(outcome: Outcome, extra: dict[str, Any] | None = None) -> Any:
    if outcome.ok:
        return {**outcome.body, **extra} if extra else outcome.body
    # The outcome as kept (a repeated key gets it again) in the one error body, its message
    # naming the device and the part from its audit record.
    audit = outcome.body.get("audit") or {}
    part = audit.get("part") or ""
    word, _, number = part.partition(" ")  # `door 5`: {door} is 5 too
    said = {"device": audit.get("device"), "part": part_text(part), **({word: number} if number else {})}
    error = body(outcome.body["error"], outcome.body["detail"], said)
    return JSONResponse({**outcome.body, **error}, status_code=outcome.status)
