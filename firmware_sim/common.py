"""Small helpers shared by the simulators: device clock, seq counter, seeded randomness."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

CST = timezone(timedelta(hours=8))
UINT32 = 1 << 32


def iso_ts(offset_s: float = 0.0) -> str:
    """The device clock as ISO 8601 with milliseconds and +08:00, e.g. 2026-11-23T09:15:02.120+08:00."""
    now = datetime.now(CST) + timedelta(seconds=offset_s)
    return now.isoformat(timespec="milliseconds")


def device_rng(seed: int | str, device_id: str) -> random.Random:
    """A random generator that depends only on the seed and the device id (deterministic runs)."""
    return random.Random(f"{seed}:{device_id}")


class SeqCounter:
    """Per-device uint32 event sequence number: +1 per event, wraps to 0.

    Kept in memory; when `path` is given it is also written there after every event (the
    device's "flash") and read back at start, so it survives a restart of the simulator.
    """

    def __init__(self, start: int = 0, path: Path | None = None) -> None:
        self.path = path
        self._next = start % UINT32
        if path is not None and path.exists():
            self._next = int(json.loads(path.read_text())["next_seq"]) % UINT32

    @property
    def peek(self) -> int:
        return self._next

    def next(self) -> int:
        value = self._next
        self._next = (value + 1) % UINT32
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"next_seq": self._next}))
            os.replace(tmp, self.path)
        return value
