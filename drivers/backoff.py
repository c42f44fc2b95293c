"""Retry delays shared by every link: exponential backoff with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter(attempt: int, rng: Callable[[], float] = random.random, base: float = 0.5, cap: float = 30.0) -> float:
    """AWS "full jitter": uniform in [0, min(cap, base * 2**attempt)].

    The jitter spreads a district's gateways (or a hall's devices) after a shared outage, so
    they do not all come back in the same second.
    """
    return rng() * min(cap, base * 2 ** min(attempt, 30))
