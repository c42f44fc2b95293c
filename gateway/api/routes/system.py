from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import GatewayDep
from gateway.metrics import registry_for

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready when the broker and the store are reachable",
            responses={503: {"description": "what is not reachable"}})
def readyz(gw: GatewayDep) -> JSONResponse:
    problems: list[str] = []
    detail: dict[str, Any] = {}
    if gw.mqtt is not None:
        s = gw.mqtt.stats
        detail["broker"] = {"connected": s.connected, "last_error": s.last_error}
        if not s.connected:
            problems.append(f"broker {gw.cfg.broker.host}:{gw.cfg.broker.port} not connected: {s.last_error}")
    detail["outbox"] = gw.outbox.stats_dict()
    if gw.drainer is not None:
        detail["sink"] = gw.drainer.stats_dict()
        if not gw.drainer.healthy:
            problems.append(f"store {gw.cfg.influx.url} not reachable: {gw.drainer.stats.last_error}")
    body = {"status": "not ready" if problems else "ready", "problems": problems, "detail": detail}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(request.app.state.gateway)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
