"""Shared API dependencies: the gateway, the caller's role, query checking, time formatting."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache, lru_cache
from typing import Annotated, Any, get_args, get_origin
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from gateway.api.errors import ApiError
from gateway.commands.audit import Caller
from gateway.config.api import MIN_TOKEN_CHARS
from gateway.signin.desk import COOKIE as SESSION_COOKIE
from gateway.signin.desk import Refused, SignInDesk
from gateway.view import View

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_OR_BREAK = re.compile("[\x00-\x1f\x7f]")


def _text_check(pattern: re.Pattern[str], allowed: str) -> Any:
    def check(value: str) -> str:
        bad = pattern.search(value)
        if bad:
            raise ValueError(f"第 {bad.start()} 个字符是控制字符 U+{ord(bad.group()):04X}：{allowed}")
        return value

    return AfterValidator(check)


# What a person types into a body (a reason, an item, a code): no control characters. The device
# side refuses NUL already (drivers/profiles/values.py); here it reached the audit, the outbox's
# lines and the log, where a NUL ends strings in C tools and a newline forges the next log line.
Text = Annotated[
    str,
    _text_check(_CONTROL_OR_BREAK, "请填一行文字，不含控制字符"),
    Field(json_schema_extra={"pattern": "^[^\\x00-\\x1f\\x7f]*$"}),
]
# A note may run over several lines (newline and tab), nothing else.
NoteText = Annotated[
    str,
    _text_check(_CONTROL, "只允许换行和制表符，不含其他控制字符"),
    Field(json_schema_extra={"pattern": "^[^\\x00-\\x08\\x0b-\\x1f\\x7f]*$"}),
]


def get_view(request: Request) -> View:
    return request.app.state.view


def get_tokens(request: Request) -> dict[str, str]:
    return request.app.state.tokens


ViewDep = Annotated[View, Depends(get_view)]
TokensDep = Annotated[dict[str, str], Depends(get_tokens)]

# auto_error=False: the scheme only declares bearer auth in OpenAPI (Swagger UI's Authorize
# button); caller_role answers a missing or wrong header with our own JSON error.
bearer = HTTPBearer(auto_error=False, description="an API token of this hall (`api.tokens` in its configuration)")


def _digest(token: str) -> bytes:
    # Compare fixed-length digests: compare_digest on the raw strings would still reveal lengths.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def role_of(tokens: Mapping[str, str], presented: str) -> str | None:
    """The role of a presented token, or None. Every configured token is compared in constant time,
    with no early exit, so timing tells neither whether nor which token matched."""
    want = _digest(presented)
    role = None
    for token, token_role in tokens.items():
        if hmac.compare_digest(_digest(token), want):
            role = token_role
    return role


def weak_tokens(tokens: Mapping[str, str]) -> list[str]:
    """A problem line per configured token shorter than MIN_TOKEN_CHARS (naming the role, never the token)."""
    return [
        f"{role} 令牌只有 {len(token)} 个字符，至少 {MIN_TOKEN_CHARS} 个"
        "（如 python3 -c 'import secrets; print(secrets.token_urlsafe(24))'）"
        for token, role in tokens.items()
        if len(token) < MIN_TOKEN_CHARS
    ]


def caller_of(callers: Mapping[str, Caller], presented: str) -> Caller | None:
    """Like role_of: every token compared in constant time, no early exit."""
    want = _digest(presented)
    found = None
    for token, who in callers.items():
        if hmac.compare_digest(_digest(token), want):
            found = who
    return found


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """Who calls, any role, kiosks included (only the pickup route takes a kiosk: see caller_role):
    a configured token (`Authorization: Bearer`), else a signed-in person's session cookie."""
    if credentials is None:
        if "authorization" not in request.headers and (session := request.cookies.get(SESSION_COOKIE)):
            return session_caller(request, session)
        if "authorization" not in request.headers:
            raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
        raise ApiError(401, "unauthenticated", "the Authorization header must be 'Bearer <token>'")
    callers: Mapping[str, Caller] | None = getattr(request.app.state, "callers", None)
    if callers is None:
        tokens: Mapping[str, str] = request.app.state.tokens
        callers = request.app.state.callers = {t: Caller(r, r) for t, r in tokens.items()}
    who = caller_of(callers, credentials.credentials.strip())
    if who is None:
        raise ApiError(401, "bad_token", "this token is not configured for this hall")
    return who


CallerDep = Annotated[Caller, Depends(caller)]


def session_caller(request: Request, token: str) -> Caller:
    """The person a session cookie stands for, or 401 (ended, expired, account disabled)."""
    desk: SignInDesk | None = getattr(request.app.state, "signin", None)
    if desk is None:
        raise ApiError(401, "session_ended", "this gateway has no sign-in with accounts")
    try:
        return desk.caller(token)
    except Refused as e:
        raise ApiError(e.status, e.code, e.detail, **e.params) from None


async def caller_role(who: CallerDep) -> str:
    # A kiosk token sits in a public keypad: it opens its own locker's pickup route and nothing else.
    if who.role == "kiosk":
        raise ApiError(403, "forbidden", "a kiosk token may only call its locker's pickup route", case="kiosk")
    return who.role


AnyRoleDep = Annotated[str, Depends(caller_role)]

# The wall screen's token (`viewer`) sits in a link on a PC in the public hall: it reads only what
# a citizen may see. Every other role that reads (a kiosk reads nothing):
READERS = ("technician", "staff", "duty_manager", "manager", "admin")


def require(*roles: str):  # type: ignore[no-untyped-def]
    async def check(role: AnyRoleDep) -> str:
        if role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"role {role} may not do this; needs one of: {', '.join(roles)}",
                role=role,
                roles=roles,
            )
        return role

    check.required_roles = roles  # type: ignore[attr-defined]  # read by app.py to document the 403
    return Depends(check)


# A read of the hall's own data: any role but the wall's `viewer` (and a kiosk). The default, so a
# new route is closed to the public wall until someone decides it shows only public figures.
RoleDep = Annotated[str, require(*READERS)]
# A read of public figures (people per zone, queue lines, the hall's rating figures): the wall's
# `viewer` too. A route taking it must show the viewer no staff id, name or case number.
PublicRoleDep = Annotated[str, Depends(caller_role)]


def refuse_viewer(role: str, what: str) -> None:
    """A public route's part that is not public (figures per person or per window): 403 for the wall."""
    if role == "viewer":
        raise ApiError(
            403,
            "forbidden",
            f"role viewer may not see {what}; needs one of: {', '.join(READERS)}",
            role=role,
            roles=READERS,
        )


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    """A route's dependant and all its sub-dependencies, depth first."""
    yield dependant
    for sub in dependant.dependencies:
        yield from dependants(sub)


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(path with its prefixes, methods, route) of every route in the schema.

    FastAPI 0.165 keeps an included router as one entry of `app.routes` and resolves its routes
    lazily (`iter_route_contexts`); older versions copied each route into `app.routes`.
    """
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined]
    except ImportError:
        contexts: Iterable[Any] = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for context in contexts:
        route = getattr(context, "original_route", context)
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield context.path_format, set(context.methods or ()), route


def _is_list(annotation: Any) -> bool:
    return any(get_origin(a) in (list, tuple, set, frozenset) for a in (annotation, *get_args(annotation)))


def _query_names(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """(every query parameter the route declares, those that take several values)."""
    names: set[str] = set()
    lists: set[str] = set()
    for d in dependants(route.dependant):
        for f in d.query_params:
            model: Any = f.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a query parameter model
                for name, info in model.model_fields.items():
                    names.add(info.alias or name)
                    if _is_list(info.annotation):
                        lists.add(info.alias or name)
            else:
                names.add(f.alias)
                if _is_list(model):
                    lists.add(f.alias)
    return frozenset(names), frozenset(lists)


async def reject_unknown_query(request: Request) -> None:
    """A misspelt filter (`?zon=`) must not silently return everything: refuse parameters the route
    does not declare (itself or through its dependencies).

    Only the route's own dependencies are seen: FastAPI 0.165 hands the request to the original
    route, so query parameters of dependencies given to `include_router` would be refused.
    Declare them on the route (or in a dependency of it).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    # Computed once per route; keyed by id because routes are unhashable and live as long as the app.
    cache: dict[int, tuple[frozenset[str], frozenset[str]]] = request.app.state.__dict__.setdefault(
        "declared_query", {}
    )
    known = cache.get(id(route))
    if known is None:
        known = cache[id(route)] = _query_names(route)
    declared, lists = known
    for name in request.query_params:
        if name not in declared:
            raise ApiError(422, "invalid_request", f"unknown query parameter {name!r}", field=f"没有查询参数 {name}")
        # `?zone=a&zone=b` would silently answer for b alone: a single value is given once.
        if name not in lists and len(given := request.query_params.getlist(name)) > 1:
            raise ApiError(
                422,
                "invalid_request",
                f"query parameter {name!r} given {len(given)} times: give it once",
                field=f"查询参数 {name} 给了 {len(given)} 次，只能给一次",
            )


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _second(zone: str, epoch_s: int) -> tuple[str, str]:
    """(date and time to the second, UTC offset): shared by every time in that second, so a list
    of thousands of devices formats a few seconds rather than thousands of datetimes."""
    text = datetime.fromtimestamp(epoch_s, _zone(zone)).isoformat()
    return text[:19], text[19:]


def iso(view: View, ts_ns: int | None) -> str | None:
    """A time for people: in the hall's own time zone, to the millisecond."""
    if ts_ns is None:
        return None
    seconds, rest = divmod(ts_ns, 1_000_000_000)
    head, offset = _second(view.timezone, seconds)
    return f"{head}.{rest // 1_000_000:03d}{offset}"
