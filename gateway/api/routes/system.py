from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import ViewDep
from gateway.metrics import registry_for

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready when the broker and the store are reachable and every part runs",
    responses={503: {"description": "what is not reachable or not running"}},
)
async def readyz(view: ViewDep) -> JSONResponse:
    r = view.readiness()
    body = {"status": "ready" if r.ready else "not ready", "problems": r.problems, "detail": r.detail}
    return JSONResponse(body, status_code=200 if r.ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, view: ViewDep) -> Response:
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(view)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
