"""GET /api/v1/me: the caller's role and the routes it may call, which the pages use to hide
what a role may not use."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.test_api_surface import MANAGER, STAFF, VIEWER, run


def test_me_lists_the_routes_the_role_may_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        r = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {MANAGER}"})
        assert r.status_code == 200, r.text
        me = r.json()
        assert (me["role"], me["actor"], me["locker"]) == ("manager", "SURFACE_MANAGER", None)
        assert {"GET /api/v1/audit", "GET /api/v1/devices", "GET /api/v1/me"} <= set(me["may"])
        assert "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock" not in me["may"]
        assert "POST /api/v1/lockers/{locker}/pickup" not in me["may"]  # a kiosk's

        staff = (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {STAFF}"})).json()
        assert staff["role"] == "staff"
        assert "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock" in staff["may"]
        assert "GET /api/v1/audit" not in staff["may"]
        # Every route listed is one the role really passes: spot-check by calling the GETs.
        for entry in staff["may"]:
            method, path = entry.split(" ")
            if method == "GET" and "{" not in path and not path.endswith("/stream"):
                got = await http.get(path, headers={"Authorization": f"Bearer {STAFF}"})
                assert got.status_code not in (401, 403), (path, got.text)

        assert (await http.get("/api/v1/me")).status_code == 401

        # The wall screen's token reads what any role reads and changes nothing.
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        may = (await http.get("/api/v1/me", headers=viewer)).json()["may"]
        assert {"GET /api/v1/occupancy", "GET /api/v1/ratings/summary", "GET /api/v1/alerts"} <= set(may)
        assert [m for m in may if not m.startswith(("GET ", "HEAD "))] == []
        refused = await http.post("/api/v1/alerts/1/ack", json={"note": "x"}, headers=viewer)
        assert refused.status_code == 403, refused.text

    run(tmp_path, monkeypatch, body)


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
