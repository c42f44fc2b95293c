"""Sign-in rules, pure: when a session has expired, and when failed sign-ins lock a name or an
address out for a while. Times are nanoseconds from the caller's clock."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """A session ends after `idle_ns` without a request, or `absolute_ns` after sign-in, whichever
    comes first (a person at a shared desk who walks away is signed out; nobody stays signed in
    for days)."""

    idle_ns: int
    absolute_ns: int

    def ended(self, created_ns: int, seen_ns: int, now_ns: int) -> str | None:
        """Why a session has ended by `now_ns` ("absolute" or "idle"), or None while it holds."""
        if now_ns >= created_ns + self.absolute_ns:
            return "absolute"
        if now_ns >= seen_ns + self.idle_ns:
            return "idle"
        return None


@dataclass(slots=True)
class _Failures:
    count: int
    first_ns: int
    locked_until_ns: int = 0


class Throttle:
    """Failed sign-ins per key (a name, or a client address): `limit` failures within `window_ns`
    lock the key for `lockout_ns`. A success clears the key. At most `max_keys` keys are kept (the
    least recently failed are forgotten first), so a flood of made-up names cannot grow memory
    without bound."""

    def __init__(self, limit: int, window_ns: int, lockout_ns: int, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_ns = window_ns
        self.lockout_ns = lockout_ns
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def locked_until(self, key: str, now_ns: int) -> int | None:
        """When the key may try again, while it is locked out; else None."""
        f = self._keys.get(key)
        if f is None or f.locked_until_ns <= now_ns:
            return None
        return f.locked_until_ns

    def failed(self, key: str, now_ns: int) -> int | None:
        """Count a failure; the time the key is locked until, if this failure locks it."""
        f = self._keys.get(key)
        if f is None or now_ns - f.first_ns >= self.window_ns or (f.locked_until_ns and f.locked_until_ns <= now_ns):
            f = _Failures(0, now_ns)
        f.count += 1
        if f.count >= self.limit:
            f.locked_until_ns = now_ns + self.lockout_ns
        self._keys[key] = f
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return f.locked_until_ns or None

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)
