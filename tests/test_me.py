"""GET /api/v1/me: the caller's role and the routes it may call, which the pages use to hide
what a role may not use."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.every_role import ROLES, TOKENS, every_role
from tests.servers import Mosquitto
from tests.test_api_surface import run


def test_me_lists_the_routes_the_role_may_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """In a hall with a device of each kind a route looks up (tests/every_role.py), so that
    a route the role passes answers what it is for, not "this hall has none"."""

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        r = await http.get("/api/v1/me", headers=auth("manager"))
        assert r.status_code == 200, r.text
        me = r.json()
        assert (me["role"], me["actor"], me["locker"]) == ("manager", "HOSTILE_MANAGER", None)
        assert {"GET /api/v1/audit", "GET /api/v1/devices", "GET /api/v1/me"} <= set(me["may"])
        assert "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock" not in me["may"]
        assert "POST /api/v1/lockers/{locker}/pickup" not in me["may"]  # a kiosk's

        staff = (await http.get("/api/v1/me", headers=auth("staff"))).json()
        assert staff["role"] == "staff"
        assert "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock" in staff["may"]
        assert "GET /api/v1/audit" not in staff["may"]
        # A role's list holds exactly the routes it passes: every GET it lists answers it, every
        # other is refused as forbidden (ids filled with the hall's devices).
        spec = (await http.get("/openapi.json")).json()
        ids = {"{device}": "lb", "{device_id}": "rp", "{locker}": "lk"}
        gets = [
            (route, filled)
            for route, ops in spec["paths"].items()
            if "get" in ops
            and route.startswith("/api/v1/")
            and not route.endswith("/stream")
            and "{" not in (filled := _filled(route, ids))
        ]
        assert len(gets) >= 15, gets
        for role in ROLES:
            may = set((await http.get("/api/v1/me", headers=auth(role))).json()["may"])
            for route, path in gets:
                got = await http.get(path, headers=auth(role))
                if f"GET {route}" in may:
                    assert got.status_code == 200, (role, path, got.text)
                else:
                    assert got.status_code == 403 and got.json()["error"] == "forbidden", (role, path, got.text)

        assert (await http.get("/api/v1/me")).status_code == 401

        # The wall screen's token reads the public figures and changes nothing.
        viewer = auth("viewer")
        may = (await http.get("/api/v1/me", headers=viewer)).json()["may"]
        assert {"GET /api/v1/occupancy", "GET /api/v1/ratings/summary"} <= set(may)
        assert "GET /api/v1/alerts" not in may  # public figures only (tests/test_roles.py)
        # Beyond reads, only signing in and out, which anyone may (they need no token).
        changes = [m for m in may if not m.startswith(("GET ", "HEAD "))]
        assert changes == ["DELETE /api/v1/session", "POST /api/v1/session"]
        refused = await http.post("/api/v1/alerts/1/ack", json={"note": "x"}, headers=viewer)
        assert refused.status_code == 403, refused.text

    every_role(tmp_path, monkeypatch, body, mosquitto)


def _filled(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace(name, value)
    return path


def test_the_pages_and_their_assets_are_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        wall = await http.get("/")
        assert wall.status_code == 200 and "/web/hallgate.js" in wall.text
        for path in (
            "/web/tech.html",
            "/web/staff.html",
            "/web/manager.html",
            "/web/hallgate.js",
            "/web/hallgate.css",
            "/web/vendor/qrcode-generator-2.0.4.js",
        ):
            r = await http.get(path)
            assert r.status_code == 200 and r.content, path
            # nothing loaded from elsewhere: a hall's network often has no internet
            assert not re.search(r"""(src|href)=["'](https?:)?//""", r.text), path

    run(tmp_path, monkeypatch, body)
