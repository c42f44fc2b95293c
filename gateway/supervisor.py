"""Long-lived tasks that must not die silently: each is restarted with backoff, and its state
(up, or down since when and why) is what /readyz and /metrics report."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from drivers.backoff import full_jitter
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)

STABLE_S = 60.0  # a part that ran this long before failing starts its backoff afresh


@dataclass
class Part:
    name: str
    up: bool = False
    since_ns: int = 0
    restarts: int = 0
    last_error: str | None = None


class Supervisor:
    def __init__(self, backoff_base_s: float = 0.5, backoff_cap_s: float = 30.0) -> None:
        self.parts: dict[str, Part] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._base, self._cap = backoff_base_s, backoff_cap_s

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run `run()` for as long as the supervisor lives; restart it when it raises or returns."""
        part = self.parts[name] = Part(name, since_ns=time.time_ns())
        self._tasks[name] = asyncio.create_task(self._keep(part, run), name=name)

    async def _keep(self, part: Part, run: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            part.up, part.since_ns = True, time.time_ns()
            started = loop.time()
            try:
                await run()
                part.last_error = "stopped by itself"
                log.error("%s stopped by itself; restarting it", part.name)
            except asyncio.CancelledError:
                raise
            except Unwritable as e:
                # The store logged its outage once and counts it: no traceback per restart.
                part.last_error = f"{type(e).__name__}: {e}"
                log.warning("%s stopped: a database it writes cannot be written (%s); restarting it", part.name, e)
            except Exception as e:
                part.last_error = f"{type(e).__name__}: {e}"
                log.exception("%s failed; restarting it", part.name)
            part.up, part.since_ns = False, time.time_ns()
            part.restarts += 1
            attempt = 0 if loop.time() - started > STABLE_S else attempt + 1
            await asyncio.sleep(full_jitter(attempt, base=self._base, cap=self._cap))

    def down(self) -> list[Part]:
        return [p for p in self.parts.values() if not p.up]

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for name, task in self._tasks.items():
            # A library that swallows the cancellation (a client's connect) would leave the part
            # running, and its next backoff sleep would hold the stop for up to half a minute:
            # cancel again until it is done.
            while not task.done():
                await asyncio.wait([task], timeout=0.5)
                if not task.done():
                    log.warning("%s did not stop when cancelled; cancelling it again", name)
                    task.cancel()
            if not task.cancelled() and task.exception() is not None:
                log.error("%s failed while stopping", name, exc_info=task.exception())
        self._tasks.clear()
