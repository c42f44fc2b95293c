"""Whether a SQLite file can be written now: one log line when that changes, not one per attempt.

Every transaction through gateway/store/sqlite.py reports its failures here. A full disk fails
every write, and the state database is written several times a second (ratings, health, alerts):
the first failure logs one error, the others are counted, and `retry` (every half second, a part
of the gateway's) ends the outage when the writes waiting in memory and a probe all go through,
with one line and the count. A write that merely succeeded ends nothing: on a full disk a small
one fits in space the WAL already holds while the others keep failing, and taking it for
recovery made the state flap. /readyz is 503 for as long as the state database is down.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


# What /readyz and a refused API request say while the state database cannot be written.
UNWRITABLE_CODE = "state_db_unwritable"
UNWRITABLE_MESSAGE = (
    "状态数据库无法写入（磁盘已满或存储故障）：评价、工单、设备状态和告警暂存在内存中，"
    "每半秒重试一次。请释放状态数据库所在磁盘的空间或检查存储，恢复后一秒内自动继续。"
)


class Unwritable(sqlite3.OperationalError):
    """A write failed because the file cannot be written (already logged and counted by its
    Writes): an error boundary counts it silently instead of logging a traceback per attempt."""


def cannot_write(e: BaseException) -> bool:
    """An error of the file, not of the statement: a full disk, an I/O error, a locked or damaged
    file. A constraint the caller broke (IntegrityError) or a bad statement says nothing of it."""
    return isinstance(e, sqlite3.OperationalError | sqlite3.InternalError) or type(e) is sqlite3.DatabaseError


class Writes:
    def __init__(self, what: str, *, logs: bool = True) -> None:
        self.what = what  # "state database /var/lib/hallgate/state.sqlite"
        self.logs = logs  # False where the owner reports the outage itself (the hub, for the outbox)
        # Writes that wait in memory while the file is down (the records' staged rows): retried
        # first, every half second, by `retry`.
        self.pending: list[Callable[[], None]] = []
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
            if not self.logs:
                return
            log.error(
                "%s cannot be written: %s; what it should keep waits in memory, retried every half second "
                "(not ready until it can be written again)",
                self.what,
                self.last_error,
            )

    def _up(self) -> None:
        if self.down_since_ns is None:
            return
        down_s = (time.time_ns() - self.down_since_ns) / 1e9
        if self.logs:
            log.warning("%s written again, after %d failed writes over %.1f s", self.what, self.failures, down_s)
        self.down_since_ns = None
        self.failures = 0

    def retry(self, probe: Callable[[], None]) -> None:
        """While down: the writes waiting in memory, then `probe`, a small write of its own (so that
        the file is known writable again within a second of space returning even when nothing
        else writes). Up again only when all of them went through."""
        if not self.down:
            return
        try:
            for flush in list(self.pending):
                flush()
            probe()
        except Unwritable:
            return  # counted by failed(); still down
        self._up()
