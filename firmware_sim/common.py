"""Small helpers shared by the simulators: device clock, seq counter, seeded randomness."""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CST = timezone(timedelta(hours=8))
UINT32 = 1 << 32


def u32(value: int) -> list[int]:
    """A uint32 as two registers, high word first."""
    value %= UINT32
    return [value >> 16, value & 0xFFFF]


class CaseNumbers:
    """Case numbers (办件编号) like 320111-2026-0004417, unique within a hall simulator."""

    def __init__(self, region: str = "320111", start: int = 1) -> None:
        self.region = region
        self._n: Iterator[int] = itertools.count(start)

    def next(self) -> str:
        return f"{self.region}-{datetime.now(CST).year}-{next(self._n):07d}"


def iso_ts(offset_s: float = 0.0) -> str:
    """The device clock as ISO 8601 with milliseconds and +08:00, e.g. 2026-11-23T09:15:02.120+08:00."""
    now = datetime.now(CST) + timedelta(seconds=offset_s)
    return now.isoformat(timespec="milliseconds")


def compact_json(payload: dict[str, Any]) -> str:
    """A payload as the MQTT devices send it: no spaces, Chinese as it is."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def device_rng(seed: int | str, device_id: str) -> random.Random:
    """A random generator that depends only on the seed and the device id (deterministic runs)."""
    return random.Random(f"{seed}:{device_id}")


# Not HALLGATE_*: the gateway reads every HALLGATE_* variable as a configuration override.
STATE_ENV = "FIRMWARE_SIM_STATE_DIR"


def default_state_root() -> Path:
    """Where simulated devices keep their "flash" (seq) unless told otherwise:
    $FIRMWARE_SIM_STATE_DIR, else $XDG_STATE_HOME/hallgate-sim, else ~/.local/state/hallgate-sim."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "hallgate-sim"


class SeqCounter:
    """Per-device uint32 event sequence number: +1 per event, wraps to 0.

    Kept in memory; when `path` is given it is also written there after every event (the
    device's "flash") and read back at start, so it survives a restart of the simulator (the
    doc: `seq` survives reboots). Written through on every event, so even a `kill -9` of the
    simulator never reuses a seq. The record has a fixed width and is overwritten in place
    (one pwrite, ~2 us) rather than replaced through a temporary file (~140 us): a backlog
    burst of 100,000 punches must not stall the event loop.
    """

    WIDTH = 10  # digits of 2**32 - 1

    def __init__(self, start: int = 0, path: Path | None = None) -> None:
        self.path = path
        self._next = start % UINT32
        self._fd: int | None = None
        if path is not None and path.exists():
            try:
                self._next = int(json.loads(path.read_text())["next_seq"]) % UINT32
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}: not a seq state file ({e}); delete it to start again at 0") from e

    @property
    def peek(self) -> int:
        return self._next

    def _record(self) -> bytes:
        return b'{"next_seq":%-10d}\n' % self._next

    def _write(self) -> None:
        assert self.path is not None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            os.ftruncate(self._fd, len(self._record()))
        os.pwrite(self._fd, self._record(), 0)

    def next(self) -> int:
        value = self._next
        self._next = (value + 1) % UINT32
        if self.path is not None:
            self._write()
        return value

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __del__(self) -> None:
        self.close()
