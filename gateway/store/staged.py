"""The records' repositories: writes staged per batch, on a connection of their own to the state database.

The records (ratings and work orders, punches) are the stores of the device kinds that keep them
(`Kind.stores`, in each kind's package): repositories like the Journal's, a name and their
migrations, which the Journal runs with its own (the runtime hands it every registered kind's).
A store stages what the hub's batch brings and writes it in one
transaction once per batch (`Staged.flush`: before the batch is acknowledged, or on the loop's
next turn), never one per rating or punch.

Why a connection of their own (`connect`), used from the loop thread like the Journal's:
`synchronous` is a setting of the connection, and the records commit with NORMAL while the
Journal's rows (alerts, commands, the audit) commit with FULL. In WAL mode a NORMAL commit
survives the process being killed, and only a power cut can lose the last ones; such a commit
costs microseconds, not an fsync (a backlog of 100,000 punches, or a load test's 40 % of 差评,
must not stall the hub's batch). Each transaction is short and never spans a call, so the two
connections never wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.store.repository import Repository
from gateway.store.sqlite import Connection, SqliteFile, connect_wal, transaction
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection of our own to the state database (the Journal has migrated it)."""
    return connect_wal(SqliteFile.of(path, "state database"), synchronous="NORMAL", busy_timeout_ms=1000)


class Staged(Repository):
    """Writes held for one transaction: the caller flushes after its batch (the projections schedule
    `flush` on the event loop right after the hub's batch; reads flush first)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.scheduled = False

    def pending(self) -> bool:
        raise NotImplementedError

    def write(self, c: sqlite3.Connection) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def flush_soon(self) -> None:
        """Flush after the caller's batch: on the event loop's next turn (at once without a loop)."""
        if self.scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self.scheduled = True
        loop.call_soon(self.flush_logged)

    def flush_logged(self) -> None:
        try:
            self.flush()
        except Unwritable:
            pass  # kept staged, retried every half second; the file's Writes logged and counts it
        except Exception:
            # Kept staged: the next flush (the next batch, a read, the shutdown) tries again.
            log.exception("%s: records not written to the state database yet", type(self).__name__)

    def flush_for_read(self) -> None:
        """A read sees what was staged, once it is written. While the state database cannot be
        written the read answers from what is (the staged rows follow when it can again): counts
        a moment behind, rather than no answer and no alerts."""
        with contextlib.suppress(Unwritable):
            self.flush()

    def flush(self) -> None:
        self.scheduled = False
        if not self.pending():
            return
        with transaction(self.conn) as c:
            self.write(c)
        self.clear()


class StagedRows(Staged):
    """Rows staged by their key (a later row of the same key replaces the earlier one) and written
    with one statement, `INSERT`, in the flush's transaction."""

    INSERT: str = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._rows: dict[Any, tuple[Any, ...]] = {}

    def pending(self) -> bool:
        return bool(self._rows)

    def clear(self) -> None:
        self._rows.clear()

    def write(self, c: sqlite3.Connection) -> None:
        c.executemany(self.INSERT, list(self._rows.values()))


S = TypeVar("S", bound=Staged)


def attach(path: str | Path, make: Callable[[sqlite3.Connection], S]) -> tuple[S, Callable[[], None]]:
    """A store on a connection of its own, and the close that flushes what the last batch staged."""
    conn = connect(path)
    store = make(conn)
    assert isinstance(conn, Connection) and conn.file is not None
    pending = conn.file.writes.pending
    pending.append(store.flush)  # what it holds staged is retried while the file cannot be written

    def close() -> None:
        pending.remove(store.flush)
        try:
            store.flush()
        finally:
            conn.close()

    return store, close
