"""A token bucket for the district forwarder: at most `burst + rate * t` points in any t seconds.

A site back from a long cut has hours of backlog; sent as fast as the link allows, 366 sites
reconnecting at once would flatten the district store. The bucket holds the catch-up to the
configured rate by design (not by measuring), so the bound holds however fast the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """`clock` and `sleep` are replaced together in tests (a clock moved instead of waiting)."""
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._at = clock()
        self.waited_s = 0.0  # total time spent waiting for tokens: the catch-up was held back this long

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now

    async def take(self, n: int, stop: asyncio.Event) -> bool:
        """Wait until n tokens are there and take them; False when `stop` came first.

        The caller keeps its batches within the burst, or the bound could not hold.
        """
        if n > self.burst:
            raise ValueError(f"{n} points at once is over the bucket's burst of {self.burst}")
        self._refill()
        # (a hair of slack: a refill that lands a rounding error short would wait 1e-17 s forever)
        while self._tokens < n - 1e-9:
            wait = (n - self._tokens) / self.rate
            self.waited_s += wait
            if self._sleep is not None:
                await self._sleep(wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return False
            self._refill()
        self._tokens -= n
        return True
