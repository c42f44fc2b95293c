"""The API as every role sees it: a real gateway with a token per role (and, given a broker, one
device of each kind a route looks up), what the OpenAPI document says of each route, and a raw
HTTP/1.1 request. Shared by the tests of roles, the catalogue, `/me` and hostile clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.load import load_config
from gateway.runtime import Gateway, start_gateway
from tests.servers import Mosquitto, free_port

Body = Callable[[Gateway, httpx.AsyncClient], Awaitable[None]]

ROLES = ("technician", "staff", "duty_manager", "manager", "admin", "viewer")
TOKENS = {role: f"hostile-{role}-token-0123456789" for role in ROLES}
KIOSK_TOKEN = "hostile-kiosk-token-0123456789"  # the pickup locker `lk`'s (with a broker only)


def every_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: Body, broker: Mosquitto | None = None, extra: str = ""
) -> None:
    """`body(gateway, client, tokens)` against a real gateway with a token per role: with no
    devices, or with `broker`, one device of each kind a route looks up (a lockbox `lb`, a pickup
    locker `lk`, a rating pad, an attendance machine, a queue system; a phone slot), so that those routes get past
    "this hall has no such device" to what they check next."""
    tokens = "".join(f"{{role: {r}, env: HOSTILE_{r.upper()}}}, " for r in ROLES)
    path = tmp_path / "hall.yaml"
    text = f"site: hostile\napi: {{port: {free_port()}, tokens: [{tokens}]}}\nstore: {{path: {tmp_path}/o.sqlite}}\n"
    if broker is not None:
        text = text.replace("tokens: [", "tokens: [{role: kiosk, env: HOSTILE_KIOSK, locker: lk}, ")
        # Nothing answers for these devices: a route that reaches one finds it offline.
        text += f"""broker: {{host: 127.0.0.1, port: {broker.port}}}
phones: {{lockboxes: [{{device: lb, slots: {{S0001: 1}}}}]}}
devices:
  - {{id: lb, kind: lockbox, profile: ref-lockbox, slots: 12}}
  - {{id: lk, kind: pickup_locker, profile: ref-pickup-locker,
      modbus: {{host: 127.0.0.1, port: {free_port()}, unit: 1}}}}
  - {{id: rp, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: att, kind: attendance, profile: ref-attendance}}
  - {{id: q, kind: queue, profile: ref-queue}}
"""
    path.write_text(text + extra)
    env = {f"HOSTILE_{r.upper()}": t for r, t in TOKENS.items()}
    if broker is not None:
        env["HOSTILE_KIOSK"] = KIOSK_TOKEN
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(path, env)

    async def main() -> None:
        async with start_gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:
            await body(gw, http)

    asyncio.run(main())


async def may_call(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    """The answer to the first role that passes the route's role check."""
    extra = kw.pop("headers", {})
    for role in ROLES:
        headers = {"Authorization": f"Bearer {TOKENS[role]}", "Idempotency-Key": "hostile-1", **extra}
        r = await http.request(method, url, headers=headers, **kw)
        if r.status_code != 403 or r.json().get("error") != "forbidden":
            return r
    return r


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if not path.endswith("/stream")
    ]


def fill_path(
    path: str, op: dict[str, Any], name: str, value: str, ids: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The path with every path parameter filled (`name` with `value`, one in `ids` with its id),
    and the query for `name`."""
    query: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            schema = p["schema"]
            plain = "1" if schema.get("type") == "integer" else str(schema.get("enum", ["x"])[0])
            plain = (ids or {}).get(p["name"], plain)
            path = path.replace("{" + p["name"] + "}", value if p["name"] == name else plain)
        elif p["in"] == "query" and p["name"] == name:
            query[name] = value
    return path, query


def schema_kinds(schema: dict[str, Any]) -> set[str]:
    found = {schema.get("type", ""), schema.get("format", "")}
    for alt in schema.get("anyOf", []):
        found |= schema_kinds(alt)
    return found


def schema_maximum(schema: dict[str, Any]) -> int | None:
    return schema.get("maximum", next((a["maximum"] for a in schema.get("anyOf", []) if "maximum" in a), None))


async def raw_request(port: int, request: bytes, chunk: int | None = None) -> tuple[int, dict[str, Any]]:
    """Send `request` on a raw socket (all at once, or `chunk` bytes a write) and read the answer
    until the server closes: (status, JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        step = chunk or len(request)
        for at in range(0, len(request), step):
            if writer.is_closing() or reader.at_eof():
                break
            writer.write(request[at : at + step])
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)
