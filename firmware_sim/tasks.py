"""Ending the simulators' asyncio tasks: cleanly first, by cancellation when that takes too long."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger("firmware_sim.mqtt")


class Stoppable(Protocol):
    def stop(self) -> None: ...


async def shutdown_tasks(devices: Iterable[Stoppable], tasks: list[asyncio.Task[None]], timeout: float = 2.0) -> None:
    """Stop devices cleanly; cancel whatever has not finished after `timeout` seconds."""
    for device in devices:
        device.stop()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    await cancel_and_wait(pending)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("device task failed: %r", result)


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel tasks and wait until they are done.

    Cancels again while a task is still running: on Python 3.11 `asyncio.wait_for` (used inside
    aiomqtt's publish) can swallow a cancellation that races with the awaited result.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" noise
