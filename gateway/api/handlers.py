"""The API's exception handlers: every failure answers with the one error body of errors.py."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from drivers.profiles.validation import hint_of
from gateway.api.deps import SESSION_COOKIE, caller, caller_of, dependants, session_caller
from gateway.api.errors import ApiError, body
from gateway.api.lang import language
from gateway.i18n.catalogue import invalid_fields
from gateway.store.writes import UNWRITABLE_CODE, UNWRITABLE_MESSAGE, Unwritable

log = logging.getLogger("gateway.api.errors")


def _unauthenticated(request: Request) -> JSONResponse | None:
    """The 401 a request without a known token gets from a route that needs one, when FastAPI
    refused its body before the token check ran (it parses the body first): a caller without a
    token learns nothing about what a route takes."""
    route = request.scope.get("route")
    if route is None or not any(d.call is caller for d in dependants(route.dependant)):
        return None
    if "authorization" not in request.headers and (session := request.cookies.get(SESSION_COOKIE)):
        try:
            session_caller(request, session)
        except ApiError as e:
            return JSONResponse(
                body(e.code, e.detail, e.params, _lang(request)),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    callers = getattr(request.app.state, "callers", None) or {}
    if scheme.lower() == "bearer" and caller_of(callers, token.strip()) is not None:
        return None
    # The same answers as deps.caller gives when it runs first.
    if scheme.lower() == "bearer" and token.strip():
        code, detail = "bad_token", "this token is not configured for this hall"
    else:
        code, detail = "unauthenticated", "send Authorization: Bearer <token>"
    return JSONResponse(
        body(code, detail, lang=_lang(request)),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _lang(request: Request) -> str:
    return language(request.headers.get("accept-language"))


def _fields(errors: list[Any]) -> str:
    """A refused body's or query's problems, field by field, as the configuration's errors say them."""
    return "；".join(f"{'.'.join(map(str, err['loc']))}：{hint_of(err)}" for err in errors)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse(body(e.code, e.detail, e.params, _lang(request)), status_code=e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        if (refused := _unauthenticated(request)) is not None:
            return refused
        if [(err["type"], tuple(err["loc"])) for err in e.errors()] == [("missing", ("header", "Idempotency-Key"))]:
            return JSONResponse(
                body(
                    "idempotency_key_required",
                    "send an Idempotency-Key header (e.g. a UUID) with a command",
                    lang=_lang(request),
                ),
                status_code=400,
            )
        detail = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        said = {"field": invalid_fields(list(e.errors()))}
        return JSONResponse(
            body("invalid_request", detail, said, _lang(request), _fields(list(e.errors()))), status_code=422
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 400 and e.detail == "There was an error parsing the body":
            if (refused := _unauthenticated(request)) is not None:
                return refused
            # FastAPI's answer to a body that is not UTF-8: the same 422 as any other bad JSON.
            said = {"field": "请求内容不是 UTF-8 编码的 JSON"}
            return JSONResponse(
                body("invalid_request", "body: not JSON text in UTF-8", said, _lang(request)), status_code=422
            )
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(e.status_code, "http_error")
        said = {"path": request.url.path, "allow": (e.headers or {}).get("Allow")}
        # Keep the exception's headers: a 405 must say which methods the path takes (`Allow`).
        return JSONResponse(
            body(code, str(e.detail), said, _lang(request)), status_code=e.status_code, headers=e.headers
        )

    @app.exception_handler(Unwritable)
    async def unwritable(request: Request, e: Unwritable) -> JSONResponse:
        # Logged once and counted by the store (gateway/store/writes.py); /readyz says the same.
        said = f"{UNWRITABLE_MESSAGE}（{e}）"
        return JSONResponse(body(UNWRITABLE_CODE, said, lang=_lang(request), zh=said), status_code=503)

    @app.exception_handler(Exception)
    async def crash(request: Request, e: Exception) -> JSONResponse:
        log.exception("API %s %s failed", request.method, request.url.path)
        detail = f"{type(e).__name__}: the gateway logged the details"
        return JSONResponse(body("internal", detail, lang=_lang(request)), status_code=500)
