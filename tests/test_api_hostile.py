"""The API against a hostile or careless client: what it sends (methods a path does not take,
values the state database cannot hold, oversized or odd bodies) gets a 4xx JSON answer that says
what to change, never a 500. A real gateway served by uvicorn (tests/test_api_surface.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.test_api_surface import AUTH, run


def test_a_method_the_path_does_not_take_says_which_it_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9110: a 405 carries `Allow` (the error handler used to drop the exception's headers)."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for method, path in (("TRACE", "/healthz"), ("DELETE", "/api/v1/devices"), ("OPTIONS", "/metrics")):
            r = await http.request(method, path, headers=AUTH)
            assert r.status_code == 405, (method, path)
            assert r.json()["error"] == "method_not_allowed"
            assert "GET" in r.headers["allow"], (method, path)
        r = await http.get("/api/v1/alerts/1/ack", headers=AUTH)
        assert (r.status_code, r.headers["allow"]) == (405, "POST")

    run(tmp_path, monkeypatch, body)
