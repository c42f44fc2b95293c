"""The durable outbox: lines waiting for InfluxDB, in one SQLite file.

- Durable when `append` returns: one transaction, WAL journal, synchronous=FULL by default (a
  committed record survives a power cut, not only a `kill -9`). The MQTT layer acknowledges a
  QoS 1 message to the broker only after that.
- Bounded in bytes (the UTF-8 size of the stored lines, not the file size: SQLite adds about
  25-40 bytes per record for the row, the class index and page slack). A full outbox makes room
  by dropping the least important class first (TELEMETRY, then EVENT), oldest first, and counts
  and logs what it dropped. An incoming record never evicts a more important one: new telemetry
  is refused before an old event is dropped, and AUDIT is never dropped at all. An AUDIT record
  that does not fit makes the whole append fail with OutboxFull and store nothing, so the
  command path can refuse a command it cannot audit. (What to drop is planned in eviction.py,
  pure; the warning about it is worded in drops.py.)
- Batches leave in priority-then-age order: after an outage the audit trail and the events
  (差评, openings) reach the district first and the telemetry backlog follows. Order does not
  matter to InfluxDB (points are idempotent by timestamp), the drain writes far faster than
  events arrive so telemetry is not starved, and keeping telemetry longest is consistent with it
  being the first to be dropped.
- All calls are synchronous and short, made from the event loop thread (sqlite3 objects stay in
  the thread that made them). Memory stays flat: nothing is loaded beyond one batch.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from gateway.domain.canonical import Priority
from gateway.store.cursors import LOCAL, Batch, Cursors, OutboxCursor, sink_drops
from gateway.store.drops import DropLog
from gateway.store.eviction import plan_eviction
from gateway.store.sqlite import Connection, SqliteFile, connect_wal, transaction
from gateway.store.wal import Checkpointer

log = logging.getLogger(__name__)

CLASSES = tuple(Priority)  # AUDIT, EVENT, TELEMETRY: most important first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: an id is never reused, so acking a
                                           -- batch can never delete a newer record
    prio INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,                -- wall time of append, for the age of the backlog
    size INTEGER NOT NULL,                 -- UTF-8 bytes of line
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_prio ON records (prio);  -- (prio, id): peek and drop order
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(RuntimeError):
    """An AUDIT record does not fit even after dropping every lower class. Nothing was stored."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth_records: int
    depth_bytes: int
    max_bytes: int
    depth_by_class: dict[str, int]
    bytes_by_class: dict[str, int]
    oldest_age_s: float | None
    delivered_total: int
    rejected_total: int  # removed because the sink refused them (bad lines)
    dropped_by_class: dict[str, int]  # evicted or refused because the outbox was full
    audit_full: bool  # the last AUDIT append did not fit: commands cannot be audited
    # Per sink (its cursor: "local" is the hall's InfluxDB): records it has not had yet, records
    # it lost to a full outbox, records delivered to it since creation.
    pending_by_sink: dict[str, int] = field(default_factory=dict)
    dropped_by_sink: dict[str, int] = field(default_factory=dict)
    delivered_by_sink: dict[str, int] = field(default_factory=dict)


def _sqlite_ok(path: Path) -> str | None:
    """None when the file is a sound SQLite database, else what is wrong with it."""
    try:
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return str(e)
    if rows != [("ok",)]:
        return "; ".join(r[0] for r in rows[:5])
    return None


class Outbox:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 256 * 1024 * 1024,
        synchronous: str = "FULL",
        clock: Callable[[], float] = time.time,
        warn_interval_s: float = 10.0,
        background_checkpoints: bool = True,
        cursors: Sequence[str] = (LOCAL,),
    ) -> None:
        """`cursors`: the sinks this outbox feeds, each with its own cursor (cursors.py)."""
        if synchronous not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise ValueError(f"synchronous must be FULL, NORMAL, EXTRA or OFF, not {synchronous!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock
        self._drops = DropLog(log, max_bytes, clock, warn_interval_s)
        self._listeners: list[Callable[[], None]] = []
        self._audit_full = False
        self.set_aside: Path | None = None  # where a corrupt file was moved at start
        self.file = SqliteFile.of(self.path, "outbox", logs=False)
        # (the hub, not `writes`, says whether the outbox stores: it also knows OutboxFull)
        self._conn = self._open(synchronous)
        self._checkpointer = Checkpointer(self.file.wal) if background_checkpoints else None
        if self._checkpointer is not None:
            self._checkpointer.start()
        self._since_nudge = 0  # bytes appended since the checkpointer was last nudged
        self._count = dict.fromkeys(CLASSES, 0)
        self._bytes = dict.fromkeys(CLASSES, 0)
        for prio, n, size in self._conn.execute("SELECT prio, count(*), sum(size) FROM records GROUP BY prio"):
            self._count[Priority(prio)] = n
            self._bytes[Priority(prio)] = size or 0
        self._counters = dict(self._conn.execute("SELECT name, value FROM counters"))
        self.cursors = Cursors(self._conn, tuple(cursors) or (LOCAL,))

    # -- opening ------------------------------------------------------------------------------

    def _open(self, synchronous: str) -> Connection:
        if self.path.exists():
            problem = _sqlite_ok(self.path)
            if problem is not None:
                self._set_aside(problem)
        try:
            return self._connect(synchronous)
        except sqlite3.DatabaseError as e:
            # Sound pages but not our outbox (or damage quick_check does not see): same remedy.
            self._set_aside(str(e))
            return self._connect(synchronous)

    def _connect(self, synchronous: str) -> Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        # auto_vacuum must be chosen before the first table exists; it lets ack() give freed
        # pages back to the file system after a big backlog has drained. The WAL is bounded by
        # the file's WalBound (gateway/store/wal.py); the Checkpointer thread keeps it far below
        # that bound, so the appender (the event loop) rarely waits for a checkpoint's fsync.
        # busy_timeout: a lock another connection holds for a moment is waited for, not an error.
        conn = connect_wal(
            self.file, synchronous=synchronous, busy_timeout_ms=2000, first=["PRAGMA auto_vacuum = INCREMENTAL"]
        )
        try:
            conn.executescript(_SCHEMA)
            conn.execute("SELECT prio, at_ms, size, line FROM records LIMIT 0")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _set_aside(self, problem: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        self.path.rename(aside)
        self.set_aside = aside
        # The WAL belongs to the corrupt file: replaying it into a fresh one would be wrong.
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        log.error(
            "outbox %s is not a sound SQLite database (%s): moved it to %s and started an empty "
            "outbox; its records were not delivered",
            self.path,
            problem,
            aside.name,
        )

    @property
    def connection(self) -> sqlite3.Connection:
        """For tables kept in the outbox's file and written with its lines (see `append`'s `also`)."""
        return self._conn

    def checkpoint(self) -> None:
        """Copy the WAL into the database now, on this connection (before a file copy, or where a
        test must not depend on the checkpointer's timing)."""
        with self.file.wal.lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        self._drops.flush(self._counters, force=True)
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._conn.close()

    # -- writing ------------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (synchronously, in the appending thread) after every append that stored something."""
        self._listeners.append(callback)

    def append(
        self, records: Sequence[tuple[Priority, str]], also: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        """Store records in one transaction; durable when this returns.

        Makes room by dropping lower classes when full (see the module doc). Raises OutboxFull,
        storing nothing, when an AUDIT record cannot be stored. `also` writes in the same
        transaction (an ingest worker's forwarded events: gateway/store/forwarded.py).
        """
        if not records and also is None:
            return
        now_ms = int(self._clock() * 1000)
        # Most important first (stable within a class): when space runs out within this batch,
        # its telemetry is what gets refused, never an event that came after it.
        rows = sorted(((int(prio), now_ms, len(line.encode()), line) for prio, line in records), key=_by_prio)
        count = dict(self._count)
        nbytes = dict(self._bytes)
        evict_upto: dict[Priority, int] = {}  # class -> highest id to delete
        refused = dict.fromkeys(CLASSES, 0)
        keep = []
        with transaction(self._conn) as conn:
            next_rows = partial(_next_rows, conn)
            for row in rows:
                prio, size = Priority(row[0]), row[2]
                free = self.max_bytes - sum(nbytes.values())
                if size > free and not plan_eviction(prio, size - free, count, nbytes, evict_upto, next_rows):
                    if prio is Priority.AUDIT:
                        self._audit_full = True
                        raise OutboxFull(
                            f"outbox {self.path} is full ({self.max_bytes} bytes) of audit records "
                            f"only: cannot store a {size}-byte audit record"
                        )
                    refused[prio] += 1
                    continue
                count[prio] += 1
                nbytes[prio] += size
                keep.append(row)
            evicted = {}
            lost = {p: self.cursors.evicting(conn, p, upto) for p, upto in evict_upto.items()}
            for prio, upto in evict_upto.items():
                n = conn.execute("DELETE FROM records WHERE prio = ? AND id <= ?", (int(prio), upto)).rowcount
                evicted[prio] = n
            conn.executemany("INSERT INTO records (prio, at_ms, size, line) VALUES (?, ?, ?, ?)", keep)
            if also is not None:
                also(conn)
            dropped = {p: evicted.get(p, 0) + refused[p] for p in CLASSES}
            if any(dropped.values()):
                self._bump(conn, {f"dropped_{p.name.lower()}": n for p, n in dropped.items() if n})
                self._bump(conn, sink_drops(self.cursors.names, lost, sum(refused.values())))
        if any(p is Priority.AUDIT for p, _ in records):
            self._audit_full = False
        self._count, self._bytes = count, nbytes
        for prio, by_sink in lost.items():
            self.cursors.evicted(prio, by_sink)
        for row in keep:
            self.cursors.added(Priority(row[0]), 1)
        if any(dropped.values()):
            self._drops.note(dropped, self._counters)
        if keep:
            self._since_nudge += sum(row[2] for row in keep)
            if self._since_nudge > 1 << 18 and self._checkpointer is not None:
                self._since_nudge = 0
                self._checkpointer.nudge()
            for callback in self._listeners:
                callback()

    def probe(self) -> None:
        """A small write of its own: raises while the file cannot be written (a full disk), so a
        link that stopped acknowledging knows when to ask for its batches again."""
        with transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO counters (name, value) VALUES ('probe', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (int(self._clock() * 1000),),
            )

    def _bump(self, conn: sqlite3.Connection, deltas: dict[str, int]) -> None:
        conn.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            deltas.items(),
        )
        for name, n in deltas.items():
            self._counters[name] = self._counters.get(name, 0) + n

    # -- reading ------------------------------------------------------------------------------

    def peek(self, limit: int, cursor: str = LOCAL) -> Batch:
        """Up to `limit` records the sink `cursor` has not had, most important class first,
        oldest first within a class."""
        ids: list[int] = []
        lines: list[str] = []
        prios: list[int] = []
        nbytes = 0
        for prio in CLASSES:
            left = limit - len(ids)
            if left <= 0:
                break
            if not self.cursors.pending[cursor][prio]:
                continue
            for rid, size, line in self._conn.execute(
                "SELECT id, size, line FROM records WHERE prio = ? AND id > ? ORDER BY id LIMIT ?",
                (int(prio), self.cursors.upto[cursor][prio], left),
            ):
                ids.append(rid)
                lines.append(line)
                prios.append(int(prio))
                nbytes += size
        return Batch(ids, lines, nbytes, tuple(prios))

    def ack(self, batch: Batch, *, rejected: int = 0, cursor: str = LOCAL) -> None:
        """The sink `cursor` has answered for a batch: delivered, except `rejected` lines it refused.

        Its cursor moves past the batch; records every sink is past are deleted. Records evicted
        since peek() are simply gone already; only what is really passed counts.
        """
        if not batch.ids:
            return
        tops: dict[Priority, int] = {}
        for rid, prio in zip(batch.ids, batch.prios, strict=True):
            tops[Priority(prio)] = max(rid, tops.get(Priority(prio), 0))
        deleted = dict.fromkeys(CLASSES, 0)
        freed = dict.fromkeys(CLASSES, 0)
        passed: dict[Priority, int] = {}
        with transaction(self._conn) as conn:
            for prio, top in tops.items():
                passed[prio] = self.cursors.advance(conn, cursor, prio, top)
            others = [n for n in self.cursors.names if n != cursor]
            floors = {
                p: min([max(top, self.cursors.upto[cursor][p])] + [self.cursors.upto[n][p] for n in others])
                for p, top in tops.items()
            }
            for prio, floor in floors.items():
                for (size,) in conn.execute(
                    "DELETE FROM records WHERE prio = ? AND id <= ? RETURNING size", (int(prio), floor)
                ):
                    deleted[prio] += 1
                    freed[prio] += size
            n = sum(passed.values())
            rejected = min(rejected, n)
            suffix = "" if cursor == LOCAL else f"_to_{cursor}"
            self._bump(conn, {f"delivered{suffix}": n - rejected, f"rejected{suffix}": rejected})
        for prio, top in tops.items():
            self.cursors.advanced(cursor, prio, top, passed[prio])
        for prio in CLASSES:
            self._count[prio] -= deleted[prio]
            self._bytes[prio] -= freed[prio]
        self._prune()

    def cursor(self, name: str) -> OutboxCursor:
        """One sink's view of the outbox, for its drain."""
        return OutboxCursor(self, name)

    def _prune(self) -> None:
        """Give free pages back to the file system in small steps, so the file shrinks after a
        backlog without one long pause. Freed pages are reused by new records anyway."""
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free > 256:
            total = self._conn.execute("PRAGMA page_count").fetchone()[0]
            if free * 4 > total:
                # executescript steps the pragma to completion; execute() would free one page.
                self._conn.executescript("PRAGMA incremental_vacuum(2048);")
                self.file.wal.after_commit(self._conn)

    # -- reporting ----------------------------------------------------------------------------

    @property
    def depth_records(self) -> int:
        return sum(self._count.values())

    @property
    def depth_bytes(self) -> int:
        return sum(self._bytes.values())

    def stats(self) -> OutboxStats:
        self._drops.flush(self._counters, force=False)
        row = self._conn.execute("SELECT at_ms FROM records ORDER BY id LIMIT 1").fetchone()
        age = None if row is None else max(0.0, self._clock() - row[0] / 1000)
        c = self._counters
        return OutboxStats(
            depth_records=self.depth_records,
            depth_bytes=self.depth_bytes,
            max_bytes=self.max_bytes,
            depth_by_class={p.name.lower(): self._count[p] for p in CLASSES},
            bytes_by_class={p.name.lower(): self._bytes[p] for p in CLASSES},
            oldest_age_s=age,
            delivered_total=c.get("delivered", 0),
            rejected_total=c.get("rejected", 0),
            dropped_by_class={p.name.lower(): c.get(f"dropped_{p.name.lower()}", 0) for p in CLASSES},
            audit_full=self._audit_full,
            pending_by_sink={n: sum(self.cursors.pending[n].values()) for n in self.cursors.names},
            dropped_by_sink={n: c.get(f"dropped_to_{n}", 0) for n in self.cursors.names},
            delivered_by_sink={
                n: c.get("delivered" if n == LOCAL else f"delivered_to_{n}", 0) for n in self.cursors.names
            },
        )


def _by_prio(row: tuple[int, int, int, str]) -> int:
    return row[0]


def _next_rows(conn: sqlite3.Connection, prio: Priority, after: int) -> list[tuple[int, int]]:
    """The eviction planner's view of the table: a class's next records after an id, oldest first."""
    return conn.execute(
        "SELECT id, size FROM records WHERE prio = ? AND id > ? ORDER BY id LIMIT 512",
        (int(prio), after),
    ).fetchall()
