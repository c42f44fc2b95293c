"""Whether a SQLite file can be written now: one log line when that changes, not one per attempt.

Every transaction through gateway/store/sqlite.py reports here. A full disk fails every write,
and the state database is written several times a second (ratings, health, alerts): the first
failure logs one error, the others are counted, and the first write that succeeds logs one line
with the count. /readyz is 503 for as long as the file cannot be written.
"""

from __future__ import annotations

import logging
import sqlite3
import time

log = logging.getLogger(__name__)


def cannot_write(e: BaseException) -> bool:
    """An error of the file, not of the statement: a full disk, an I/O error, a locked or damaged
    file. A constraint the caller broke (IntegrityError) or a bad statement says nothing of it."""
    return isinstance(e, sqlite3.OperationalError | sqlite3.InternalError) or type(e) is sqlite3.DatabaseError


class Writes:
    def __init__(self, what: str) -> None:
        self.what = what  # "state database /var/lib/hallgate/state.sqlite"
        self.down_since_ns: int | None = None
        self.failures = 0  # since it went down
        self.failures_total = 0
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self.down_since_ns is not None

    def failed(self, e: BaseException) -> None:
        self.failures += 1
        self.failures_total += 1
        self.last_error = f"{type(e).__name__}: {e}"
        if self.down_since_ns is None:
            self.down_since_ns = time.time_ns()
            log.error(
                "%s cannot be written: %s; what it should keep waits in memory, retried every second "
                "(not ready until a write succeeds)",
                self.what,
                self.last_error,
            )

    def ok(self) -> None:
        if self.down_since_ns is None:
            return
        down_s = (time.time_ns() - self.down_since_ns) / 1e9
        log.warning("%s written again, after %d failed writes over %.1f s", self.what, self.failures, down_s)
        self.down_since_ns = None
        self.failures = 0
