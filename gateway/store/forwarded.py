"""An ingest worker's forwarded events, kept in its outbox file until the gateway has recorded them.

A worker acknowledges a message to the broker once its lines are committed; from then on only
this table holds the decoded events the gateway's records (ratings, work orders, punches,
quarantine) are built from. Each batch's events are one row, written in the same transaction as
its lines (Outbox.append's `also`) and numbered by a `seq` that is never reused (AUTOINCREMENT).
The gateway acknowledges a seq once its records up to it are committed; the rows up to it are
deleted in the worker's next transaction (no commit, no fsync of their own while busy). A worker
that (re)starts sends every row still here first, so whoever was killed when, an event the
broker saw acknowledged reaches the gateway at least once: the gateway skips the seqs of this
`stream` it has already taken (a fresh table is a new stream), and the records' unique keys
absorb what a restarted gateway is sent again.

Bounded in bytes (the pickled rows): a batch whose events do not fit is not kept for the
gateway (its lines still go to InfluxDB). Counted in `dropped_events`, persisted with the
table, logged when it starts and stops, and reported by /readyz and the metrics.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.store.sqlite import transaction

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forwarded (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an acknowledgement names one row for good
    size INTEGER NOT NULL,
    events INTEGER NOT NULL,
    data BLOB NOT NULL                      -- a pickled gateway.ingest.decode.Decoded, without its lines
);
CREATE TABLE IF NOT EXISTS forward_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One row on its way to the gateway (the frame a worker sends)."""

    stream: str
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class _Tx:
    """What the open transaction changes, applied only once it has committed."""

    rows: int
    bytes: int
    dropped: int
    pruned: int
    seq: int | None


class ForwardLog:
    def __init__(self, conn: sqlite3.Connection, max_bytes: int) -> None:
        self.conn = conn
        self.max_bytes = max_bytes
        conn.executescript(_SCHEMA)
        with transaction(conn) as c:
            meta = dict(c.execute("SELECT name, value FROM forward_meta"))
            if "stream" not in meta:
                meta["stream"] = uuid.uuid4().hex
                c.execute("INSERT INTO forward_meta VALUES ('stream', ?)", (meta["stream"],))
        self.stream: str = meta["stream"]
        self.dropped_events = int(meta.get("dropped_events", 0))
        n, size, top = conn.execute(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(max(seq), 0) FROM forwarded"
        ).fetchone()
        self.rows, self.bytes, self.top = int(n), int(size), int(top)
        self.acked = 0  # the gateway's acknowledgement: rows up to it may go
        self._pruned = 0  # rows up to this are deleted
        self._tx: _Tx | None = None
        self.full = False

    # -- writing, inside the outbox's transaction ---------------------------------------------

    def keep(self, data: bytes, events: int) -> Callable[[sqlite3.Connection], None]:
        """The write for Outbox.append's `also`; then `committed()` once append returned, or `rolled_back()`."""

        def write(c: sqlite3.Connection) -> None:
            rows, nbytes, pruned = self._delete_acked(c)
            dropped, seq = self.dropped_events, None
            if nbytes + len(data) <= self.max_bytes:
                sql = "INSERT INTO forwarded (size, events, data) VALUES (?, ?, ?)"
                cur = c.execute(sql, (len(data), events, data))
                seq, rows, nbytes = cur.lastrowid, rows + 1, nbytes + len(data)
            else:
                dropped += events
                c.execute("INSERT OR REPLACE INTO forward_meta VALUES ('dropped_events', ?)", (str(dropped),))
            self._tx = _Tx(rows, nbytes, dropped, pruned, seq)

        return write

    def committed(self) -> int | None:
        """Apply the committed transaction; the seq of the row it kept (None: nothing kept)."""
        tx, self._tx = self._tx, None
        if tx is None:
            return None
        self.rows, self.bytes, self._pruned = tx.rows, tx.bytes, tx.pruned
        if tx.seq is not None:
            self.top = tx.seq
        if tx.dropped != self.dropped_events and not self.full:
            self.full = True
            log.error(
                "ingest worker: its forward table is full (%d bytes unacknowledged by the gateway): events are "
                "stored to InfluxDB but not kept for the gateway's records (ratings, punches) until it catches "
                "up; counted in forward_dropped",
                self.bytes,
            )
        elif tx.seq is not None and self.full:
            self.full = False
            log.warning(
                "ingest worker: its forward table has room again; %d events in all were not kept",
                tx.dropped,
            )
        self.dropped_events = tx.dropped
        return tx.seq

    def rolled_back(self) -> None:
        self._tx = None

    def _delete_acked(self, c: sqlite3.Connection) -> tuple[int, int, int]:
        """Delete what the gateway acknowledged: (rows, bytes) left, and the seq deleted up to."""
        upto = self.acked
        if upto <= self._pruned:
            return self.rows, self.bytes, self._pruned
        n, size = c.execute("SELECT count(*), coalesce(sum(size), 0) FROM forwarded WHERE seq <= ?", (upto,)).fetchone()
        c.execute("DELETE FROM forwarded WHERE seq <= ?", (upto,))
        return self.rows - int(n), self.bytes - int(size), upto

    # -- on their own -------------------------------------------------------------------------

    def prune(self) -> None:
        """Delete what the gateway acknowledged, in a transaction of its own (when no batch comes)."""
        if self.acked <= self._pruned:
            return
        with transaction(self.conn) as c:
            rows, nbytes, pruned = self._delete_acked(c)
        self.rows, self.bytes, self._pruned = rows, nbytes, pruned

    def after(self, seq: int, limit: int) -> list[tuple[int, bytes]]:
        """Rows after `seq`, oldest first: what is still to be sent."""
        return self.conn.execute(
            "SELECT seq, data FROM forwarded WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def stats(self) -> dict[str, int | bool]:
        return {"rows": self.rows, "bytes": self.bytes, "max_bytes": self.max_bytes, "full": self.full}
