"""The API as a client meets it: offline docs, OpenAPI, query checking, HEAD, tokens, and the
HTTP server's defences (request deadline, TCP_NODELAY). A real gateway and real uvicorn servers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel

from gateway.api.app import WeakTokens, create_app
from gateway.api.deps import require, role_of
from gateway.api.server import ListenError, make_server
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.runtime import Gateway, start_gateway
from tests.servers import free_port

MANAGER = "surface-manager-token-0123"
STAFF = "surface-staff-token-456789"
VIEWER = "surface-viewer-token-98765"


def _hall(tmp_path: Path, manager: str = MANAGER) -> Any:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: surface
api: {{port: {free_port()}, tokens: [{{role: manager, env: SURFACE_MANAGER}}, {{role: staff, env: SURFACE_STAFF}},
  {{role: viewer, env: SURFACE_VIEWER}}]}}
store: {{path: {tmp_path}/outbox.sqlite}}
""")
    return load_config(path, {"SURFACE_MANAGER": manager, "SURFACE_STAFF": STAFF, "SURFACE_VIEWER": VIEWER})


@contextlib.asynccontextmanager
async def serving(app: FastAPI, **options: Any) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    """`app` on a server from make_server, on a free port, for the block."""
    server, sock = make_server(app, "127.0.0.1", 0, **options)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
        yield server, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: Callable[[Gateway, httpx.AsyncClient], Awaitable[None]]
) -> None:
    """`body(gateway, client)` against a real gateway with no devices, its API served by uvicorn."""
    monkeypatch.setenv("SURFACE_MANAGER", MANAGER)
    monkeypatch.setenv("SURFACE_STAFF", STAFF)
    monkeypatch.setenv("SURFACE_VIEWER", VIEWER)
    cfg = _hall(tmp_path)

    async def main() -> None:
        async with start_gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
            await body(gw, http)

    asyncio.run(main())


AUTH = {"Authorization": f"Bearer {MANAGER}"}


def test_docs_load_every_asset_from_the_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for page in ("/docs", "/redoc"):
            r = await http.get(page)
            assert r.status_code == 200
            urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", r.text)
            assert urls, r.text
            assert not [u for u in urls if "//" in u], f"{page} loads from elsewhere: {urls}"
            for url in urls:
                asset = await http.get(url)
                assert asset.status_code == 200 and asset.content, url
        js = await http.get("/docs-assets/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in js.text

    run(tmp_path, monkeypatch, body)


def test_openapi_declares_bearer_auth_and_the_error_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        schemes = spec["components"]["securitySchemes"]
        assert [s["scheme"] for s in schemes.values()] == ["bearer"]
        assert spec["components"]["schemas"]["ErrorOut"]["required"] == ["error", "message", "detail"]
        error_ref = {"$ref": "#/components/schemas/ErrorOut"}

        def responses(path: str) -> dict[str, Any]:
            return spec["paths"][path]["get"]["responses"]

        devices = spec["paths"]["/api/v1/devices"]["get"]
        assert devices["security"] == [{name: []} for name in schemes]
        assert {"401", "422"} <= set(responses("/api/v1/devices"))
        assert {"401", "404", "422"} <= set(responses("/api/v1/devices/{device_id}"))
        for code in ("401", "404", "422"):
            assert responses("/api/v1/devices/{device_id}")[code]["content"]["application/json"]["schema"] == error_ref
        assert "401" not in responses("/healthz") and "security" not in spec["paths"]["/healthz"]["get"]
        # Swagger UI shows no free-text Authorization header field: the Authorize button sets it.
        assert not [p for p in devices.get("parameters", []) if p["name"].lower() == "authorization"]

    run(tmp_path, monkeypatch, body)


def test_unknown_query_parameters_are_refused_in_the_readers_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for path in ("/healthz", "/readyz", "/metrics", "/api/v1/devices", "/api/v1/occupancy", "/"):
            r = await http.get(path, params={"zon": "consult"}, headers=AUTH)
            assert r.status_code == 422, path
            assert r.json() == {
                "error": "invalid_request",
                "message": "请求内容有误：没有查询参数 zon",
                "next": "请按接口文档（/docs）修改后重试",
                "detail": "请求内容有误：没有查询参数 zon。请按接口文档（/docs）修改后重试",
            }
            # A client that reads English (`Accept-Language: en`) gets the detail in English.
            r = await http.get(path, params={"zon": "consult"}, headers={**AUTH, "Accept-Language": "en-GB,zh;q=0.5"})
            assert r.json()["detail"] == "unknown query parameter 'zon'", r.text
        assert (await http.get("/api/v1/devices", headers=AUTH)).status_code == 200

    run(tmp_path, monkeypatch, body)


class Window(BaseModel):
    start: str | None = None
    end: str | None = None


def zone_filter(zone: str | None = None) -> str | None:
    return zone


def test_declared_query_parameters_pass_and_role_checks_are_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parameters declared by the route, by a dependency of it, or by a query model are allowed."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        app = create_app(gw.view, {MANAGER: "manager", STAFF: "staff"})

        @app.get("/probe")
        async def probe(
            zone: Annotated[str | None, Depends(zone_filter)], window: Annotated[Window, Query()], step: int = 60
        ) -> dict[str, Any]:
            return {"zone": zone, "start": window.start, "step": step}

        @app.get("/admin-only", dependencies=[require("admin")])
        async def admin_only() -> dict[str, str]:
            return {}

        responses = app.openapi()["paths"]["/admin-only"]["get"]["responses"]
        assert {"401", "403", "422"} <= set(responses) and "admin" in responses["403"]["description"]

        async with serving(app) as (_, base), httpx.AsyncClient(base_url=base) as client:
            r = await client.get("/admin-only", headers=AUTH)
            assert (r.status_code, r.json()["error"]) == (403, "forbidden")
            r = await client.get("/probe", params={"zone": "a", "start": "s", "end": "e", "step": 5})
            assert r.json() == {"zone": "a", "start": "s", "step": 5}
            r = await client.get("/probe", params={"zone": "a", "stpe": 5})
            assert r.json()["detail"].startswith("请求内容有误：没有查询参数 stpe"), r.text

    run(tmp_path, monkeypatch, body)


def test_head_answers_like_get_without_a_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for path in ("/", "/healthz", "/docs", "/api/v1/devices"):
            get, head = await http.get(path, headers=AUTH), await http.head(path, headers=AUTH)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
            assert head.headers["content-type"] == get.headers["content-type"]
        assert (await http.head("/api/v1/devices")).status_code == 401

    run(tmp_path, monkeypatch, body)


def test_tokens_and_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        async def status(authorization: str | bytes | None) -> tuple[int, str]:
            headers = {} if authorization is None else {"Authorization": authorization}
            r = await http.get("/api/v1/devices", headers=headers)
            return r.status_code, (r.json()["error"] if r.status_code != 200 else "")

        assert await status(f"Bearer {MANAGER}") == (200, "")
        assert await status(f"bearer {STAFF}") == (200, "")
        assert await status(None) == (401, "unauthenticated")
        assert await status(f"Basic {MANAGER}") == (401, "unauthenticated")
        assert await status(f"Bearer {MANAGER[:-1]}") == (401, "bad_token")
        assert await status(f"Bearer {MANAGER}x") == (401, "bad_token")
        assert await status("Bearer 令牌".encode()) == (401, "bad_token")  # not ASCII: no crash

    run(tmp_path, monkeypatch, body)
    tokens = {MANAGER: "manager", STAFF: "staff"}
    assert [role_of(tokens, t) for t in (MANAGER, STAFF, "", MANAGER.upper())] == ["manager", "staff", None, None]


def test_a_short_token_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"api.tokens\[0\].env：SURFACE_MANAGER 中的令牌只有 7 个字符：至少 16 个",
    ) as e:
        _hall(tmp_path, manager="hunter2")
    assert "hunter2" not in str(e.value)
    with pytest.raises(WeakTokens, match=r"manager 令牌只有 7 个字符，至少 16 个") as w:
        create_app(None, {"hunter2": "manager"})  # type: ignore[arg-type]
    assert "hunter2" not in str(w.value)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "x" * 3000}  # more than one segment's worth, as real answers are

    return app


def test_kept_alive_requests_do_not_wait_for_delayed_acks() -> None:
    async def main() -> None:
        async with serving(_app()) as (server, base), httpx.AsyncClient(base_url=base) as client:
            await client.get("/ping")
            started = time.perf_counter()
            for _ in range(20):
                assert (await client.get("/ping")).status_code == 200
            elapsed = time.perf_counter() - started
            # With Nagle on, each request waits ~40 ms for the client's delayed ACK: 0.8 s in all.
            assert elapsed < 0.4, f"20 kept-alive requests took {elapsed:.3f} s"
            [connection] = server.server_state.connections
            sock = connection.transport.get_extra_info("socket")  # type: ignore[union-attr]
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1

    asyncio.run(main())


async def _closed_after(reader: asyncio.StreamReader, timeout: float) -> float:
    """Seconds until the server closed the connection (reading EOF)."""
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), timeout)
    assert data == b"", data
    return time.monotonic() - started


def test_slow_clients_are_disconnected_at_the_request_deadline() -> None:
    async def main() -> None:
        async with serving(_app(), request_timeout_s=0.5) as (_, base):
            port = int(base.rsplit(":", 1)[1])
            silent = await asyncio.open_connection("127.0.0.1", port)
            half = await asyncio.open_connection("127.0.0.1", port)
            half[1].write(b"GET /ping HT")
            drip = await asyncio.open_connection("127.0.0.1", port)

            async def dripping() -> None:
                for byte in b"GET /ping HTTP/1.1\r\nHost: x\r\n":
                    if drip[1].is_closing():
                        return
                    drip[1].write(bytes([byte]))
                    await asyncio.sleep(0.05)

            task = asyncio.create_task(dripping())
            for reader, _ in (silent, half, drip):
                assert await _closed_after(reader, timeout=3) < 1.5
            await task
            for _, writer in (silent, half, drip):
                writer.close()

            # Between requests of a kept-alive connection, the keep-alive timeout applies, not the deadline.
            async with httpx.AsyncClient(base_url=base) as client:
                await client.get("/ping")
                await asyncio.sleep(0.8)
                assert (await client.get("/ping")).status_code == 200

    asyncio.run(main())


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match=rf"cannot listen on 127.0.0.1:{port}: Address already in use"):
            make_server(_app(), "127.0.0.1", port)
