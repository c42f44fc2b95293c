"""The HTTP API: thin routers per resource over the gateway's state."""

from __future__ import annotations

import importlib
import json
import re
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api import errors, handlers
from gateway.api.deps import api_routes, caller, caller_role, dependants, reject_unknown_query, weak_tokens
from gateway.api.errors import ErrorOut
from gateway.api.routes import alerts, audit, devices, kinds, me, quarantine, session, staff, system, words
from gateway.commands.audit import Caller
from gateway.features.discipline import api as discipline_api
from gateway.features.discipline import exposure as discipline_exposure
from gateway.features.discipline import ledger_api, patrol_api
from gateway.features.reports import api as reports_api
from gateway.i18n import docs as docs_words
from gateway.i18n.catalogue import labels
from gateway.kinds.registry import KINDS
from gateway.paths import DASHBOARD_DIR
from gateway.signin.desk import SignInDesk
from gateway.view import View

# Swagger UI and ReDoc from a package, not a CDN: a hall's network often has no internet.
DOCS_ASSETS = files("fastapi_offline") / "static"
ASSETS_URL = "/docs-assets"


# The largest request body the API reads. Its bodies are a note, a reason, a code or an item:
# a few hundred bytes. Without a bound, anyone (before any token check) could make the gateway
# hold a body of any size in memory.
MAX_BODY_BYTES = 64 * 1024


class WeakTokens(ValueError):
    """Configured API tokens too short to resist guessing (the message names roles, never tokens)."""


def create_app(
    view: View, tokens: dict[str, str], callers: dict[str, Caller] | None = None, signin: SignInDesk | None = None
) -> FastAPI:
    """The API over the gateway's read model; `tokens`: token -> role; `callers`: token -> who
    (actor name for the audit, a kiosk's locker; default: the role names the actor); `signin`:
    sign-in with named accounts (without it, tokens only)."""
    problems = weak_tokens(tokens)
    if problems:
        raise WeakTokens("API 令牌太短，容易被猜中 (weak_tokens)：" + "；".join(problems))
    app = FastAPI(
        title=f"hallgate: {view.title}",
        version="0.1.0",
        description="一个政务服务大厅的设备状态、客流、告警与命令 / "
        "Device health, occupancy, alerts and commands of one service hall.",
        openapi_tags=docs_words.tag_list(),
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.view = view
    app.state.tokens = tokens
    app.state.signin = signin
    app.state.callers = callers if callers is not None else {t: Caller(r, r) for t, r in tokens.items()}
    handlers.install(app)
    app.include_router(system.router)
    for router in (
        devices.router,
        quarantine.router,
        alerts.router,
        audit.router,
        me.router,
        session.router,
        kinds.router,
        words.router,
        staff.router,
        discipline_exposure.router,  # before the ledger's: /violations/exposure is no violation's id
        discipline_api.router,
        patrol_api.router,
        ledger_api.router,  # after the fixed /violations/... paths: its last is /violations/{id}
        reports_api.router,
        *kind_routers(),
    ):
        app.include_router(router, prefix="/api/v1")
    document_errors(app)
    add_docs(app)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html")

    # The catalogue's words for the pages, before the files: one table, not a copy in a script.
    app.add_api_route("/web/words.js", words.words_js, include_in_schema=False)
    # The pages' scripts, styles and vendored libraries (no CDN: a hall often has no internet), and
    # the kinds' fragments of them (before the mount, which would answer their paths first).
    app.include_router(kinds.files)
    app.mount("/web", StaticFiles(directory=str(DASHBOARD_DIR)), name="web")

    app.add_middleware(HeadAsGet)
    # A patrol photo's upload is the one body allowed past 64 KiB (bounded all the same).
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, wider=((patrol_api.PHOTO_PATH, patrol_api.PHOTO_BODY_MAX),))
    return app


def kind_routers() -> list[APIRouter]:
    """The routes of every registered kind, in the registry's order (`Kind.router`), whether or not
    this hall has a device of it: every hall's API has the same paths and the same OpenAPI document,
    and a route of a kind the hall lacks says so itself (a 404 with its own code)."""
    routers = []
    for kind in KINDS.values():
        if kind.router is None:
            continue
        module, _, name = kind.router.partition(":")
        router = getattr(importlib.import_module(module), name)
        if not isinstance(router, APIRouter):
            raise TypeError(f"kind {kind.name}: {kind.router} is not a FastAPI APIRouter")
        routers.append(router)
    return routers


def add_docs(app: FastAPI) -> None:
    """/docs and /redoc from the bundled assets (no CDN: a hall may have no internet); the district
    view serves the same."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=None,
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )


def route_roles(route: APIRoute) -> list[str]:
    """The roles a route is open to, when only some are (none: any caller its dependencies let in)."""
    return sorted({r for d in dependants(route.dependant) for r in getattr(d.call, "required_roles", ())})


def route_errors(route: APIRoute) -> dict[str, str]:
    """The JSON errors a route can answer (status -> when), from what it depends on: 422 everywhere
    (unknown query parameters), 401 where a token is needed, 403 where only some roles may call,
    404 where the path names something."""
    calls = [d.call for d in dependants(route.dependant)]
    found = {"422": "参数无效或未知 / invalid or unknown parameters"}
    if caller_role in calls or caller in calls:
        found["401"] = "没有令牌或令牌不属于本厅 / no token, or one this hall does not know"
    roles = route_roles(route)
    if roles:
        found["403"] = f"角色无权调用（需要 {'、'.join(roles)} 之一）/ the token's role may not do this"
    elif caller_role in calls:  # any role, but a kiosk token is refused (it calls its pickup route only)
        found["403"] = "自助终端令牌只能调用其取件柜的取件接口 / a kiosk token may call its pickup route only"
    if route.dependant.path_params:
        found["404"] = "本厅没有该编号 / nothing of that id in this hall"
    if route.body_field is not None:
        found["413"] = f"请求体超过 {MAX_BODY_BYTES} 字节 / a body over {MAX_BODY_BYTES} bytes"
    return found


def document_errors(app: FastAPI) -> None:
    """Declare each route's error answers in OpenAPI with the one error schema, so route files need
    not repeat them. A description a route gives itself is kept; FastAPI's own 422 schema is
    replaced, since errors.py answers validation errors with ErrorOut too."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        summaries = labels().get("route", {})
        for path, methods, route in api_routes(app):
            for method in methods:
                op = spec["paths"][path][method.lower()]
                # Chinese first, the English beside it (gateway/i18n/: the route's label).
                zh = summaries.get(f"{method} {path}")
                op["summary"] = f"{zh} / {op.get('summary', '')}" if zh else op.get("summary", "")
                op["description"] = docs_words.operation_description(
                    zh, route_roles(route), labels().get("role", {}), op.get("description", "")
                )
                responses = op["responses"]
                for status, when in route_errors(route).items():
                    declared = responses.get(status, {}).get("description") if status != "422" else None
                    responses[status] = {"description": declared or when, "content": content}
        for unused in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{unused}"' not in json.dumps(spec):
                schemas.pop(unused, None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


class HeadAsGet:
    """HEAD on any GET route: run the GET and send its status and headers without the body.

    FastAPI's routes answer only the methods they declare, so monitoring probes that use HEAD
    (`curl -I`, load balancers) would get 405. The response is cut after its first body message,
    and the route is then told the client left, so a stream (Server-Sent Events) ends too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def head_send(message: Message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.body":
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        async def head_receive() -> Message:
            return {"type": "http.disconnect"} if finished else await receive()

        await self.app(dict(scope, method="GET"), head_receive, head_send)


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413, before the route (or the token check) runs.

    A declared Content-Length over the limit is answered at once, unread; a chunked body is
    counted as it arrives and the route reading it gets the 413 (FastAPI passes an HTTPException
    raised while reading the body through).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, wider: tuple[tuple[re.Pattern[str], int], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = wider  # (path, its own limit): an upload route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for path, n in self.wider if path.match(scope["path"])), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await errors.too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, errors.too_large_detail(limit))
            return message

        await self.app(scope, counted, send)
