from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import GatewayDep
from gateway.metrics import registry_for

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready when the broker and the store are reachable",
            responses={503: {"description": "what is not reachable"}})
async def readyz(gw: GatewayDep) -> JSONResponse:
    problems: list[str] = []
    detail: dict[str, Any] = {}
    if gw.mqtt is not None:
        s = gw.mqtt.stats
        detail["broker"] = {"connected": s.connected, "last_error": s.last_error}
        if not s.connected:
            problems.append(f"broker {gw.cfg.broker.host}:{gw.cfg.broker.port} not connected: {s.last_error}")
    detail["outbox"] = asdict(gw.outbox.stats())
    if gw.sink is not None:
        d = gw.drain
        detail["sink"] = {"name": gw.sink.name, "healthy": d.healthy, "delivered_total": d.delivered_total,
                          "delivered_per_s": round(d.rate(time.monotonic()), 1), "rejected_total": d.rejected_total,
                          "errors": dict(d.errors_by_type), "last_error": d.last_error}
        # Before the first write the sink has not been tried: that is not an outage.
        if not d.healthy and d.last_error is not None:
            problems.append(f"store {gw.cfg.influx.url} not reachable: {d.last_error}")
    body = {"status": "not ready" if problems else "ready", "problems": problems, "detail": detail}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(request.app.state.gateway)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
