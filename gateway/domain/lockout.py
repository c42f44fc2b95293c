"""Wrong pickup codes: after `failures` within `window_ns` on one locker, refuse tries for
`lock_ns`. Pure: the clock is passed in; the state is plain data so it outlives a restart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Lockout:
    failures: int = 5
    window_ns: int = 15 * 60 * 10**9
    lock_ns: int = 15 * 60 * 10**9
    tries: dict[str, list[int]] = field(default_factory=dict)  # key -> times of recent wrong codes
    until: dict[str, int] = field(default_factory=dict)  # key -> locked until

    def locked_until(self, key: str, now_ns: int) -> int | None:
        end = self.until.get(key)
        if end is None:
            return None
        if now_ns >= end:
            del self.until[key]
            return None
        return end

    def fail(self, key: str, now_ns: int) -> int | None:
        """Note a wrong code; the time the key is locked until, when this one locks it."""
        recent = [t for t in self.tries.get(key, ()) if now_ns - t < self.window_ns] + [now_ns]
        if len(recent) >= self.failures:
            self.tries.pop(key, None)
            self.until[key] = now_ns + self.lock_ns
            return self.until[key]
        self.tries[key] = recent
        return None

    def remaining(self, key: str, now_ns: int) -> int:
        """Wrong codes still allowed before the lockout."""
        return self.failures - sum(1 for t in self.tries.get(key, ()) if now_ns - t < self.window_ns)

    def state(self) -> dict[str, Any]:
        return {"tries": self.tries, "until": self.until}

    def restore(self, state: dict[str, Any]) -> None:
        self.tries = {k: [int(t) for t in v] for k, v in state.get("tries", {}).items()}
        self.until = {k: int(v) for k, v in state.get("until", {}).items()}
