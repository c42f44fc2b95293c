"""What a full outbox dropped, told to the operator: a summary per interval, not a line per record.

The totals since the outbox was created are its own counters (kept in its file, bumped in the
transaction that drops); this only gathers the drops since the last warning and words the warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from gateway.domain.canonical import Priority


class DropLog:
    def __init__(self, log: logging.Logger, max_bytes: int, clock: Callable[[], float], warn_interval_s: float) -> None:
        self._log = log  # the outbox's logger: the warning keeps the name operators filter on
        self._max_bytes = max_bytes
        self._clock = clock
        self._warn_interval_s = warn_interval_s
        self._by_class: dict[Priority, int] = {}  # drops since the last warning
        self._last_log = float("-inf")

    def note(self, dropped: Mapping[Priority, int], totals: Mapping[str, int]) -> None:
        """Add one append's drops; warns unless a warning went out within the interval."""
        for prio, n in dropped.items():
            if n:
                self._by_class[prio] = self._by_class.get(prio, 0) + n
        self.flush(totals, force=False)

    def flush(self, totals: Mapping[str, int], *, force: bool) -> None:
        """Warn about the drops not yet told (`force`: even within the interval, e.g. at close)."""
        pending = {p: n for p, n in self._by_class.items() if n}
        now = self._clock()
        if not pending or (not force and now - self._last_log < self._warn_interval_s):
            return
        what = ", ".join(f"{n} {p.name.lower()}" for p, n in sorted(pending.items(), reverse=True))
        told = ", ".join(f"{p.name.lower()} {totals.get(f'dropped_{p.name.lower()}', 0)}" for p in Priority)
        # Per sink (its cursor), when the outbox feeds more than the local one: who lacks what.
        sinks = {k.removeprefix("dropped_to_"): n for k, n in totals.items() if k.startswith("dropped_to_")}
        if len(sinks) > 1:
            told += "; per sink: " + ", ".join(f"{name} {n}" for name, n in sorted(sinks.items()))
        self._log.warning(
            "outbox full (%d bytes): dropped %s records (oldest of the least important class "
            "first, or refused new ones); total dropped since creation: %s",
            self._max_bytes,
            what,
            told,
        )
        self._by_class = {}
        self._last_log = now
