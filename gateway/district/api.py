"""The district's read-only API: `hallgate district -c district.yaml` (OpenAPI at /docs).

Every route reads; none writes to a site. Tokens come from district.yaml (`api.tokens`, each a
role and the variable holding it); any configured role reads. Errors are the hall's one body
`{error, message, next, detail}` (gateway/api/errors.py), a bad period 422 in Chinese.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from gateway.api import handlers
from gateway.api.app import BodyLimit
from gateway.api.app import add_docs as docs_pages
from gateway.api.deps import bearer
from gateway.api.errors import ApiError, ErrorOut, body
from gateway.district.config import Site
from gateway.district.guard import COOKIE, Guard, retry_after
from gateway.district.service import District
from gateway.district.store import StoreUnreachable
from gateway.domain.periods import FORMS, PeriodError, Span

__all__ = ["COOKIE", "create_district_app"]
MAX_BODY = 4096
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no token, or one district.yaml does not list"},
    429: {"model": ErrorOut, "description": "too many wrong tokens from this address: Retry-After says when"},
    422: {"model": ErrorOut, "description": "a period not in one of the reports' forms"},
    503: {"model": ErrorOut, "description": "the district store did not answer"},
}
PeriodQuery = Annotated[
    str | None,
    Query(description="2026-12-07, 2026-W49, 2026-12, 2026-Q4 or 2026-12-01..2026-12-15; default this month"),
]


async def reader_role(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """Any configured role; the pages send the token as a cookie instead of the header."""
    presented = credentials.credentials if credentials else request.cookies.get(COOKIE)
    if not presented:
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
    return guard_of(request).role(request, presented)


def guard_of(request: Request) -> Guard:
    return request.app.state.guard


Reader = Annotated[str, Depends(reader_role)]


def span_of(d: District, period: str | None) -> Span:
    try:
        return d.span(period)
    except PeriodError as e:
        raise ApiError(422, e.code, str(e), period=period, forms=FORMS) from None


def site_of(d: District, site_id: str) -> Site:
    site = d.cfg.site(site_id)
    if site is None:
        raise ApiError(404, "unknown_site", f"district.yaml lists no site {site_id!r}", site=site_id)
    return site


async def store_call(coro: Any) -> Any:
    try:
        return await coro
    except StoreUnreachable as e:
        raise ApiError(503, "district_store_unreachable", str(e)) from None


def create_district_app(d: District, tokens: dict[str, str]) -> FastAPI:
    app = FastAPI(
        title=f"hallgate district: {d.cfg.name}",
        version="0.1.0",
        description="每个站点的状态、指标、评比与告警（只读）。Sites' state, figures, ranking, alerts (read-only).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.district, app.state.tokens, app.state.guard = d, tokens, Guard(tokens)
    handlers.install(app)
    docs_pages(app)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)  # only /login takes one: a token

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else retry_after(e)
        return JSONResponse(body(e.code, e.detail, e.params), status_code=e.status, headers=headers)

    @app.get("/healthz", summary="存活检查")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/sites", summary="每个站点的状态：在线/离线、最后数据时间、未结束告警", responses=ERRORS)
    async def sites(_: Reader) -> dict[str, Any]:
        return await store_call(district_of(app).states())

    @app.get("/api/v1/figures", summary="本期指标：每个站点、每个层级（中心/镇街/村社区）和全区", responses=ERRORS)
    async def figures(_: Reader, period: PeriodQuery = None) -> dict[str, Any]:
        d = district_of(app)
        return await store_call(d.figures(span_of(d, period)))

    @app.get("/api/v1/ranking", summary="站点评比（按 district.yaml 的 ranking 权重）", responses=ERRORS)
    async def ranking(_: Reader, period: PeriodQuery = None) -> dict[str, Any]:
        d = district_of(app)
        return await store_call(d.ranking(span_of(d, period)))

    @app.get(
        "/api/v1/sites/{site_id}",
        summary="一个站点：状态、本期指标和未结束告警",
        responses={**ERRORS, 404: {"model": ErrorOut, "description": "no such site in district.yaml"}},
    )
    async def one_site(site_id: str, _: Reader, period: PeriodQuery = None) -> dict[str, Any]:
        d = district_of(app)
        site = site_of(d, site_id)
        return await store_call(d.site(site, span_of(d, period)))

    return app


def district_of(app: FastAPI) -> District:
    return app.state.district
