"""What the outbox and the state database share: one object per database file (its WAL bound and
whether it can be written), connections that know it, and explicit transactions that report to it."""

from __future__ import annotations

import contextlib
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.store.wal import WalBound
from gateway.store.writes import Unwritable, Writes, cannot_write


class SqliteFile:
    """A database file as this process writes it: every connection to it shares this object."""

    def __init__(self, path: Path, what: str, *, logs: bool = True) -> None:
        self.path = path
        self.wal = WalBound(path)
        self.writes = Writes(f"{what} {path}", logs=logs)

    @classmethod
    def of(cls, path: str | Path, what: str = "database", *, logs: bool = True) -> SqliteFile:
        key = Path(path).resolve()
        file = _OPEN.get(key)
        if file is None:
            file = _OPEN[key] = cls(Path(path), what, logs=logs)
        return file


# Alive while a connection (or its owner) holds it: a file reopened later starts afresh.
_OPEN: weakref.WeakValueDictionary[Path, SqliteFile] = weakref.WeakValueDictionary()


# Each connection's page cache, in KiB (SQLite's default is 2,000). A hall's gateway holds six or
# so connections, and each cache fills, a page at a time, to its bound as its tables grow (a
# connection writing alerts or work orders at a 差评's pace took minutes): 12 MiB of the resident
# set coming late and staying (issue 19). The pages they hold are a table's newest and an index's
# upper levels; the rest comes from the operating system's file cache, which the process does
# not pay for.
CACHE_KIB = 512


class Connection(sqlite3.Connection):
    file: SqliteFile | None = None


def connect_wal(file: SqliteFile, *, synchronous: str, busy_timeout_ms: int, first: Sequence[str] = ()) -> Connection:
    """A WAL connection with the file's bound; `first`: pragmas that must precede the WAL switch."""
    conn = sqlite3.connect(file.path, isolation_level=None, factory=Connection)
    try:
        conn.file = file
        for pragma in first:
            conn.execute(pragma)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        file.wal.configure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (the connection is opened with
    isolation_level=None, so nothing else starts or ends transactions behind our back). The file's
    write status hears of a failure of the file itself (raised as Unwritable, an OperationalError),
    and its WAL bound of every commit."""
    file = getattr(conn, "file", None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # After a full disk or an I/O error SQLite may have rolled back already; a COMMIT that
            # failed leaves the transaction open. Either way end it, and keep the first error.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as e:
        if file is None or not cannot_write(e) or isinstance(e, Unwritable):
            raise
        file.writes.failed(e)
        raise Unwritable(str(e)) from e
    if file is not None:
        file.wal.after_commit(conn)
