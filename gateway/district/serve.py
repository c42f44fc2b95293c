"""`hallgate district -c district.yaml`: the district's API and pages, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from gateway.api.deps import weak_tokens
from gateway.api.server import make_server
from gateway.config.base import secret
from gateway.district import pages
from gateway.district.api import create_district_app
from gateway.district.config import DistrictConfig
from gateway.district.service import District
from gateway.district.store import StoreReader
from gateway.district.watcher import BrokerWatcher


class DistrictStartupError(Exception):
    pass


def tokens_of(cfg: DistrictConfig) -> dict[str, str]:
    """token -> role, from the variables district.yaml names; a missing or weak one stops the start."""
    missing = [t.env for t in cfg.api.tokens if not secret(t.env)]
    if missing:
        raise DistrictStartupError(f"令牌变量未设置 (token variables not set): {', '.join(missing)}")
    tokens = {secret(t.env) or "": t.role for t in cfg.api.tokens}
    weak = weak_tokens(tokens)
    if weak:
        raise DistrictStartupError("; ".join(weak))
    if not tokens:
        raise DistrictStartupError("district.yaml 的 api.tokens 为空：至少配置一个只读令牌 (no api.tokens)")
    return tokens


def build_app(d: District, tokens: dict[str, str]) -> FastAPI:
    app = create_district_app(d, tokens)
    pages.install(app)
    return app


@dataclass
class Running:
    district: District
    app: FastAPI
    url: str


@contextlib.asynccontextmanager
async def running(cfg: DistrictConfig, clock: Callable[[], float] = time.time) -> AsyncIterator[Running]:
    """The view served on cfg.api.host:port, its broker watcher running; all stopped on exit."""
    tokens = tokens_of(cfg)
    reader = StoreReader(cfg.store)
    watcher = BrokerWatcher(cfg.broker, [s.id for s in cfg.sites]) if cfg.broker is not None else None
    d = District(cfg, reader, watcher, clock)
    app = build_app(d, tokens)
    server, sock = make_server(app, cfg.api.host, cfg.api.port)
    if watcher is not None:
        watcher.start()
    task = asyncio.create_task(server.serve(sockets=[sock]), name="district api")
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            task.result()
            raise DistrictStartupError("the API stopped while starting")
        host, port = sock.getsockname()[:2]
        # Listening on every address: the address to open on this machine is the loopback's.
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
        yield Running(d, app, f"http://{host}:{port}")
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5.0)
        sock.close()
        if watcher is not None:
            watcher.stop()
        await reader.close()


def main(path: str, run_until_signal: Callable[[Coroutine[Any, Any, None]], int]) -> int:
    """Load district.yaml, serve until a signal; exit 1 with what is wrong in the file or at start."""
    from gateway.api.server import ListenError
    from gateway.config.errors import ConfigError
    from gateway.district.config import load_district

    try:
        cfg = load_district(path)
        tokens_of(cfg)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    except DistrictStartupError as e:
        print(f"hallgate district: {e}", file=sys.stderr)
        return 1

    async def serve() -> None:
        try:
            async with running(cfg) as r:
                print(
                    f"hallgate district: {cfg.name}: {len(cfg.sites)} 个站点 (sites); "
                    f"页面 (pages) {r.url}/ ; API {r.url}/docs",
                    flush=True,
                )
                await asyncio.Event().wait()
        except (ListenError, DistrictStartupError) as e:
            print(f"hallgate district: {e}", file=sys.stderr)
            raise SystemExit(1) from None

    return run_until_signal(serve())
