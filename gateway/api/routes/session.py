"""Sign-in and sign-out of a person with a named account: a session in an HttpOnly cookie.

Machines (the wall's link, a kiosk, scripts) keep their configured bearer tokens (api.tokens);
these routes are for people at the pages. The session is kept server-side (gateway/signin/), so
sign-out, a disabled account or a changed password ends it at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.api.deps import SESSION_COOKIE, Text, ViewDep, iso
from gateway.api.errors import ApiError, body
from gateway.signin.desk import Refused, SignInDesk
from gateway.signin.passwords import MAX_PASSWORD_CHARS

router = APIRouter(tags=["system"])


class SignIn(BaseModel):
    username: Annotated[Text, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]


class SessionOut(BaseModel):
    username: str  # as the audit names the person
    person: str  # the person's name as the pages show it
    role: str
    expires_at: str  # at the latest; a session without requests for api.sessions.idle_hours ends sooner
    idle_hours: float


class SignedOut(BaseModel):
    ended: bool  # false: there was no session (a configured token, or one already ended)


def _desk(request: Request) -> SignInDesk:
    desk: SignInDesk | None = getattr(request.app.state, "signin", None)
    if desk is None:
        raise ApiError(503, "signin_unavailable", "this gateway runs without sign-in by accounts")
    return desk


def _secure(request: Request, desk: SignInDesk) -> bool:
    mode = desk.settings.secure_cookie
    if mode != "auto":
        return mode == "always"
    # Behind a TLS proxy the gateway hears plain HTTP: the proxy says what the browser used.
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


@router.post(
    "/session",
    response_model=SessionOut,
    summary="Sign in with a name and password: a session cookie",
    responses={
        401: {"description": "wrong name or password (one answer for both)"},
        403: {"description": "the account is disabled"},
        429: {"description": "too many failed sign-ins of this name or from this address: Retry-After says when"},
        503: {"description": "this gateway has no sign-in by accounts"},
    },
)
async def sign_in(request: Request, given: SignIn, view: ViewDep) -> JSONResponse:
    desk = _desk(request)
    address = request.client.host if request.client else "unknown"
    try:
        opened = await desk.sign_in(given.username, given.password, address)
    except Refused as e:
        headers = {"Retry-After": str(e.params["retry_after"])} if "retry_after" in e.params else None
        return JSONResponse(body(e.code, e.detail, e.params), status_code=e.status, headers=headers)
    a = opened.account
    out = SessionOut(
        username=a.name,
        person=a.display,
        role=a.role,
        expires_at=iso(view, opened.expires_ns) or "",
        idle_hours=desk.settings.idle_hours,
    )
    response = JSONResponse(out.model_dump())
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int(desk.policy.absolute_ns // 1_000_000_000),
        path="/",
        httponly=True,  # no script reads it: a script injected into a page cannot carry it away
        samesite="strict",  # no other site's page can make the browser send it (no CSRF)
        secure=_secure(request, desk),
    )
    return response


@router.delete("/session", response_model=SignedOut, summary="Sign out: the session ends at once")
async def sign_out(request: Request) -> JSONResponse:
    token = request.cookies.get(SESSION_COOKIE)
    desk: SignInDesk | None = getattr(request.app.state, "signin", None)
    ended = bool(token and desk is not None and desk.sign_out(token))
    response = JSONResponse(SignedOut(ended=ended).model_dump())
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
