"""The HTTP API: thin routers per resource over the gateway's state."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api import errors
from gateway.api.deps import caller_role, dependants, reject_unknown_query, weak_tokens
from gateway.api.errors import ErrorOut
from gateway.api.routes import devices, occupancy, system
from gateway.paths import DASHBOARD_DIR
from gateway.runtime import Gateway, StartupError

# Swagger UI and ReDoc from a package, not a CDN: a hall's network often has no internet.
DOCS_ASSETS = files("fastapi_offline") / "static"
ASSETS_URL = "/docs-assets"


def create_app(gw: Gateway) -> FastAPI:
    problems = weak_tokens(gw.tokens)
    if problems:
        raise StartupError("API tokens too short to resist guessing: " + "; ".join(problems))
    app = FastAPI(title=f"hallgate: {gw.cfg.name or gw.cfg.site}", version="0.1.0",
                  description="Device health, occupancy and commands of one service hall.",
                  docs_url=None, redoc_url=None, dependencies=[Depends(reject_unknown_query)])
    app.state.gateway = gw
    errors.install(app)
    app.include_router(system.router)
    app.include_router(devices.router, prefix="/api/v1")
    app.include_router(occupancy.router, prefix="/api/v1")
    document_errors(app)
    _docs(app)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html")

    app.add_middleware(HeadAsGet)
    return app


def _docs(app: FastAPI) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title}: API",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=favicon,
                                   oauth2_redirect_url=None, swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "", title=f"{app.title}: API",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=favicon,
                              with_google_fonts=False)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


def document_errors(app: FastAPI) -> None:
    """Declare in OpenAPI the JSON errors each route can answer, from what it depends on, so route
    files need not repeat them: 422 everywhere (unknown query parameters), 401 where a token is
    needed, 403 where only some roles may call, 404 where the path names something."""
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = [d.call for d in dependants(route.dependant)]
        found: dict[int | str, dict[str, Any]] = {422: _error("invalid or unknown parameters")}
        if caller_role in calls:
            found[401] = _error("no token, or one this hall does not know")
        roles = [r for c in calls for r in getattr(c, "required_roles", ())]
        if roles:
            found[403] = _error(f"the token's role may not do this (needs one of: {', '.join(sorted(set(roles)))})")
        if route.dependant.path_params:
            found[404] = _error("nothing of that id in this hall")
        route.responses = found | dict(route.responses)  # what a route file declares itself wins


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
