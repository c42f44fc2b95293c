"""The HTTP API: thin routers per resource over the gateway's state."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from gateway.api import errors
from gateway.api.routes import alerts, devices, occupancy, quarantine, system
from gateway.view import View

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "index.html"


def create_app(view: View, tokens: dict[str, str]) -> FastAPI:
    """`tokens`: token -> role."""
    app = FastAPI(title=f"hallgate: {view.title}", version="0.1.0",
                  description="Device health, occupancy and commands of one service hall.")
    app.state.view = view
    app.state.tokens = tokens
    errors.install(app)
    app.include_router(system.router)
    app.include_router(devices.router, prefix="/api/v1")
    app.include_router(occupancy.router, prefix="/api/v1")
    app.include_router(quarantine.router, prefix="/api/v1")
    app.include_router(alerts.router, prefix="/api/v1")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD)

    return app
