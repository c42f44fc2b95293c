"""Who the caller is: the token's role and the routes it may call, so a page can hide the rest."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gateway.api.deps import CallerDep, ViewDep, api_routes, caller, caller_role, dependants, iso

router = APIRouter(tags=["system"])


class HallOut(BaseModel):
    """The hall the pages show: its name, and its clock (a wall screen's own clock and time zone
    may be wrong; the pages show the hall's time from `timezone` and the offset of `now`)."""

    site: str
    name: str
    timezone: str  # IANA name, e.g. Asia/Shanghai
    now: str  # the gateway's time in the hall's zone, ISO 8601 with its offset


class MeOut(BaseModel):
    role: str
    actor: str  # as the audit names the caller: a signed-in account's name, or the token's holder
    person: str | None  # signed in with an account: the person's name (王芳); a token: none
    locker: str | None
    may: list[str]  # "METHOD /path/{param}" of every API route this role passes the role check of
    hall: HallOut


@router.get("/me", response_model=MeOut, summary="The caller's role and the routes it may call")
async def me(request: Request, who: CallerDep, view: ViewDep) -> MeOut:
    may: list[str] = []
    for path, methods, route in api_routes(request.app):
        if not path.startswith("/api/v1/"):
            continue
        calls = [d.call for d in dependants(route.dependant)]
        roles = {r for c in calls for r in getattr(c, "required_roles", ())}
        if caller not in calls:  # a public route (the catalogue of words): anyone may
            may += [f"{m} {path}" for m in sorted(methods)]
            continue
        # A route taking any token without the role check is the kiosk's (pickup, which checks
        # the kiosk's locker itself), or this one.
        kiosk_only = caller_role not in calls and route.endpoint is not me
        if (who.role == "kiosk") != kiosk_only and route.endpoint is not me:
            continue
        if roles and who.role not in roles:
            continue
        may += [f"{m} {path}" for m in sorted(methods)]
    hall = HallOut(site=view.site, name=view.title, timezone=view.timezone, now=iso(view, time.time_ns()) or "")
    return MeOut(role=who.role, actor=who.actor, person=who.person, locker=who.locker, may=sorted(may), hall=hall)
