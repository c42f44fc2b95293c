from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel

from gateway.api.deps import RoleDep, ViewDep, iso
from gateway.api.errors import ApiError
from gateway.view import DeviceSnapshot, View

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
    zone_name: str | None  # the zone as the hall's file names it (咨询服务区), for the pages
    window: str | None


class TransitionOut(BaseModel):
    at: str | None
    health: str
    detail: str


class UnknownChannelOut(BaseModel):
    """A channel (the topic's last level) the device used that its profile does not know."""

    channel: str
    first_seen: str | None
    last_seen: str | None
    messages: int
    last_topic: str


class DeviceDetailOut(DeviceOut):
    profile: str
    link: dict[str, Any]
    last_error: str | None
    info: dict[str, Any]
    counters: dict[str, int]
    history: list[TransitionOut]
    unknown_channels: list[UnknownChannelOut] = []  # newest first (quarantined too: reason unknown_channel)


class UnknownDeviceOut(BaseModel):
    topic: str
    first_seen: str | None
    last_seen: str | None
    messages: int
    last_topic: str


def _summary(view: View, d: DeviceSnapshot) -> dict[str, Any]:
    return {
        "id": d.id,
        "kind": d.kind,
        "protocol": d.protocol,
        "online": d.online,
        "last_seen": iso(view, d.last_seen_ns),
        "health": d.health,
        "detail": d.detail,
        "since": iso(view, d.since_ns),
        "zone": d.zone,
        "zone_name": next((z.name or z.id for z in view.cfg.zones if z.id == d.zone), None),
        "window": d.window,
    }


@router.get("/devices", response_model=list[DeviceOut], summary="Every device and its health, optionally filtered")
async def list_devices(
    view: ViewDep,
    _: RoleDep,
    health: Literal["ok", "degraded", "offline"] | None = None,
    kind: str | None = None,
    zone: str | None = None,
) -> Response:
    def build() -> bytes:
        # Rows rendered once per change and not validated again against DeviceOut (which
        # documents them): a hall of thousands of devices must not stall the event loop.
        rows = [
            row
            for d, row in view.device_rows(lambda d: orjson.dumps(_summary(view, d)))
            if (health is None or d.health == health)
            and (kind is None or d.kind == kind)
            and (zone is None or d.zone == zone)
        ]
        return b"[" + b",".join(rows) + b"]"

    return Response(view.snapshot(("devices", health, kind, zone), build), media_type="application/json")


@router.get(
    "/devices/unknown",
    response_model=list[UnknownDeviceOut],
    summary="Devices that publish under the hall's topics but are not configured",
)
async def unknown_devices(view: ViewDep, _: RoleDep, response: Response) -> list[dict[str, Any]]:
    # The list keeps the most recently seen; how many older ones it let go, for who pages it.
    response.headers["X-Unknown-Evicted"] = str(view.unknown_evicted()["device"])
    return [
        {
            "topic": u.base,
            "first_seen": iso(view, u.first_ns),
            "last_seen": iso(view, u.last_ns),
            "messages": u.messages,
            "last_topic": u.last_topic,
        }
        for u in view.unknown_devices()
    ]


@router.get(
    "/devices/{device_id}",
    response_model=DeviceDetailOut,
    summary="One device with its health history and error counters",
)
async def get_device(device_id: str, view: ViewDep, _: RoleDep) -> dict[str, Any]:
    d = view.device_detail(device_id)
    if d is None:
        raise ApiError(
            404,
            "unknown_device",
            f"no device {device_id!r} in this hall; GET /api/v1/devices lists them",
            device=device_id,
        )
    return _summary(view, d.device) | {
        "profile": d.device.profile,
        "link": d.link,
        "last_error": d.last_error,
        "info": d.info,
        "counters": d.counters,
        "history": [{"at": iso(view, at), "health": health, "detail": detail} for at, health, detail in d.history],
        "unknown_channels": [
            {
                "channel": u.base,
                "first_seen": iso(view, u.first_ns),
                "last_seen": iso(view, u.last_ns),
                "messages": u.messages,
                "last_topic": u.last_topic,
            }
            for u in d.unknown_channels
        ],
    }
