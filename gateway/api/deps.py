"""Shared API dependencies: the gateway, the caller's role, time formatting."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Header, Request

from gateway.api.errors import ApiError
from gateway.view import View


def get_view(request: Request) -> View:
    return request.app.state.view


def get_tokens(request: Request) -> dict[str, str]:
    return request.app.state.tokens


ViewDep = Annotated[View, Depends(get_view)]
TokensDep = Annotated[dict[str, str], Depends(get_tokens)]


def caller_role(tokens: TokensDep, authorization: Annotated[str | None, Header()] = None) -> str:
    if not authorization:
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthenticated", "the Authorization header must be 'Bearer <token>'")
    role = tokens.get(token.strip())
    if role is None:
        raise ApiError(401, "bad_token", "this token is not configured for this hall")
    return role


RoleDep = Annotated[str, Depends(caller_role)]


def require(*roles: str):  # type: ignore[no-untyped-def]
    def check(role: RoleDep) -> str:
        if role not in roles:
            raise ApiError(403, "forbidden", f"role {role} may not do this; needs one of: {', '.join(roles)}")
        return role

    return Depends(check)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def iso(view: View, ts_ns: int | None) -> str | None:
    """A time for people: in the hall's own time zone."""
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / 1e9, _zone(view.timezone)).isoformat(timespec="milliseconds")
