"""What the district forwarder vouches for: points whose time the site's clock can stand behind.

A point stamped further ahead of the site's clock than `max_future_s` (a device whose clock runs
ahead, a bad timestamp) or older than `max_age_s` (the district store's retention: it would drop
it silently, or a month's backlog flooding the store with history nobody reads there) is not
sent: it is counted per reason and logged (once a minute per reason, with the count). The
local InfluxDB still has it.

The site's own clock is checked against the district store's: every answer's `Date` header
(one-second resolution) gives the offset; past `tolerance_s` the forwarder says `clock_off` in
/readyz, since every point it stamps itself is then as far off centrally.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FUTURE, TOO_OLD, NO_TIME = "future", "too_old", "no_timestamp"
REFUSALS = (FUTURE, TOO_OLD, NO_TIME)
LOG_EVERY_S = 60.0


def timestamp_ns(line: str) -> int | None:
    """The point's time: the line protocol's last word, when it is an integer (nanoseconds)."""
    last = line.rstrip().rsplit(" ", 1)[-1]
    if not last.lstrip("-").isdigit() or " " not in line.strip():
        return None
    return int(last)


@dataclass
class Vouch:
    max_future_s: float
    max_age_s: float
    tolerance_s: float
    refused: Counter[str] = field(default_factory=Counter)
    clock_offset_s: float | None = None  # the district's clock minus ours, at the last answer
    _logged_at: dict[str, float] = field(default_factory=dict)
    _unlogged: Counter[str] = field(default_factory=Counter)

    def sort(self, lines: list[str], now_ns: int, mono: Callable[[], float] = time.monotonic) -> list[str]:
        """The lines it vouches for, in order; the others counted by reason."""
        newest = now_ns + int(self.max_future_s * 1e9)
        oldest = now_ns - int(self.max_age_s * 1e9)
        kept: list[str] = []
        refused: Counter[str] = Counter()
        for line in lines:
            ts = timestamp_ns(line)
            reason = NO_TIME if ts is None else FUTURE if ts > newest else TOO_OLD if ts < oldest else None
            if reason is None:
                kept.append(line)
            else:
                refused[reason] += 1
        if refused:
            self.refused.update(refused)
            self._log(refused, mono())
        return kept

    def _log(self, refused: Counter[str], now: float) -> None:
        self._unlogged.update(refused)
        for reason, n in list(self._unlogged.items()):
            if now - self._logged_at.get(reason, float("-inf")) < LOG_EVERY_S:
                continue
            log.warning(
                "district: %d points not forwarded (%s: %s); %d in all since start",
                n,
                reason,
                WHY[reason],
                self.refused[reason],
            )
            self._logged_at[reason] = now
            del self._unlogged[reason]

    def saw_date(self, header: str | None, now_s: float) -> None:
        """The district store's `Date` on an answer received at `now_s` (our clock, epoch seconds)."""
        if not header:
            return
        try:
            theirs = email.utils.parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        was_off = self.clock_off
        self.clock_offset_s = round(theirs - now_s, 1)
        if self.clock_off and not was_off:
            log.warning(
                "district: this site's clock is %+.0f s off the district store's: fix its time (NTP)",
                -self.clock_offset_s,
            )

    @property
    def clock_off(self) -> bool:
        # The header has whole seconds: a second's rounding is never an offset.
        return self.clock_offset_s is not None and abs(self.clock_offset_s) > max(self.tolerance_s, 1.0)

    def detail(self) -> dict[str, object]:
        return {
            "refused_points": dict(self.refused),
            "clock_offset_s": self.clock_offset_s,
            "clock_ok": None if self.clock_offset_s is None else not self.clock_off,
        }


WHY = {
    FUTURE: "stamped ahead of this site's clock by more than district.max_future_s",
    TOO_OLD: "older than district.max_age_days (the district store's retention)",
    NO_TIME: "no timestamp",
}
