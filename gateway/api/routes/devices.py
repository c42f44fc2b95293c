from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.api.deps import GatewayDep, RoleDep, iso
from gateway.api.errors import ApiError
from gateway.runtime import Gateway

router = APIRouter(tags=["devices"])


class DeviceOut(BaseModel):
    id: str
    kind: str
    protocol: str
    online: bool
    last_seen: str | None
    health: Literal["ok", "degraded", "offline"]
    detail: str
    since: str | None
    zone: str | None
    window: str | None


class TransitionOut(BaseModel):
    at: str | None
    health: str
    detail: str


class DeviceDetailOut(DeviceOut):
    profile: str
    link: dict[str, Any]
    last_error: str | None
    info: dict[str, Any]
    counters: dict[str, int]
    history: list[TransitionOut]


def _summary(gw: Gateway, device_id: str) -> dict[str, Any]:
    d, h = gw.devices[device_id], gw.hub.health[device_id]
    return {"id": d.id, "kind": d.kind, "protocol": d.protocol, "online": h.online,
            "last_seen": iso(gw, h.last_seen_ns), "health": h.health, "detail": h.detail,
            "since": iso(gw, h.since_ns), "zone": d.config.zone, "window": d.config.window}


def _link(gw: Gateway, device_id: str) -> dict[str, Any]:
    d = gw.devices[device_id]
    if d.topic is not None:
        stats = gw.mqtt.stats if gw.mqtt else None
        return {"topic": d.topic, "broker_connected": bool(stats and stats.connected)}
    m = d.config.modbus
    assert m is not None
    line = gw.lines.get(m.bus)
    s = line.stats if line else None
    return {"line": m.bus, "unit": m.unit, "framer": m.framer,
            "line_requests": s.requests if s else 0, "line_failures": s.failures if s else 0,
            "line_latency_ms": round(s.latency_ms, 2) if s and s.latency_ms is not None else None}


@router.get("/devices", response_model=list[DeviceOut], summary="Every device and its health")
async def list_devices(gw: GatewayDep, _: RoleDep) -> list[dict[str, Any]]:
    return [_summary(gw, device_id) for device_id in gw.devices]


@router.get("/devices/{device_id}", response_model=DeviceDetailOut,
            summary="One device with its health history and error counters")
async def get_device(device_id: str, gw: GatewayDep, _: RoleDep) -> dict[str, Any]:
    if device_id not in gw.devices:
        raise ApiError(404, "unknown_device", f"no device {device_id!r} in this hall; GET /api/v1/devices lists them")
    h = gw.hub.health[device_id]
    return _summary(gw, device_id) | {
        "profile": gw.devices[device_id].profile.name,
        "link": _link(gw, device_id),
        "last_error": h.last_error,
        "info": h.info,
        "counters": dict(h.counters),
        "history": [{"at": iso(gw, t.ts_ns), "health": t.health, "detail": t.detail} for t in reversed(h.history)],
    }
