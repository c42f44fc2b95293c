"""One way for tests to wait: poll a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll `check()` (sync or async) until it returns something truthy and return that, or fail
    at the deadline saying what was awaited and what was last seen."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s (last: {result!r})")
        await asyncio.sleep(0.05)


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """`until` for tests without an event loop (processes driven from outside)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s (last: {result!r})")
        time.sleep(0.05)
    return result
