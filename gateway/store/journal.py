"""The state database: what must outlive a restart and be queried (SQLite, versioned migrations).

The outbox forgets what it delivered; this file keeps the hall's state: health transitions per
device, the projections' state (zone occupancy and its counter baselines), and the quarantine of
messages that could not be decoded. Later capabilities (alerts, commands, pickup codes, work
orders, audit) add their tables as new migrations; a migration is never edited once released.

Synchronous calls from the event loop thread, like the outbox: each is one short transaction.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Index i holds the step from schema version i to i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE health_history (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        at_ns INTEGER NOT NULL,
        health TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX health_history_device ON health_history (device, id);
    CREATE TABLE projection_state (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL,          -- JSON
        saved_ns INTEGER NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        at_ns INTEGER NOT NULL,
        device TEXT,                  -- NULL: a topic of no configured device
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,         -- a short code: not_json, too_deep, bad_type, ...
        detail TEXT NOT NULL,
        size INTEGER NOT NULL,        -- the payload's full size in bytes
        payload BLOB NOT NULL         -- its first QUARANTINE_PAYLOAD_BYTES bytes
    );
    """,
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        key TEXT NOT NULL,
        severity TEXT NOT NULL,
        summary TEXT NOT NULL,
        device TEXT,
        state TEXT NOT NULL,          -- open, acknowledged, resolved, closed
        opened_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        manual INTEGER NOT NULL,
        occurrences INTEGER NOT NULL,
        clear_since_ns INTEGER,
        acked_by TEXT,
        acked_ns INTEGER,
        note TEXT,
        ended_ns INTEGER
    );
    CREATE INDEX alerts_state ON alerts (state, id);
    CREATE TABLE deliveries (         -- each alert change, once per target, until the target took it
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: it is the receiver's idempotency key
        target TEXT NOT NULL,         -- mqtt, webhook
        payload TEXT NOT NULL,        -- JSON
        created_ns INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX deliveries_target ON deliveries (target, id);
    """,
    """
    CREATE TABLE occupancy_minutes (  -- the gateway's own occupancy history, one row per zone minute
        zone TEXT NOT NULL,           -- a zone id, or '*' for the whole hall
        start_ns INTEGER NOT NULL,    -- the minute's start, epoch ns
        entered INTEGER NOT NULL,
        left_ INTEGER NOT NULL,
        occupancy INTEGER NOT NULL,   -- at the end of the minute
        clamped INTEGER NOT NULL,     -- drift hidden by the floor at 0, since the last reset
        PRIMARY KEY (zone, start_ns)
    ) WITHOUT ROWID;
    CREATE INDEX occupancy_minutes_start ON occupancy_minutes (start_ns);
    """,
)

HEALTH_HISTORY_PER_DEVICE = 200
QUARANTINE_ROWS = 5000
QUARANTINE_PAYLOAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Quarantined:
    at_ns: int
    device: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes
    size: int = -1  # full size when payload is a prefix; -1: len(payload)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    at_ns: int
    device: str | None
    topic: str
    reason: str
    detail: str
    size: int
    payload: bytes


class JournalError(RuntimeError):
    pass


class Journal:
    def __init__(self, path: str | Path, *, clock: Any = time.time_ns) -> None:
        self.path = Path(path)
        self._clock = clock
        self.set_aside: Path | None = None
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as e:
            # A state file we cannot read must not keep the hall's gateway down: keep it for a
            # person to look at and start afresh (the durable telemetry is in the outbox).
            self.set_aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            self.path.rename(self.set_aside)
            log.error(
                "state database %s cannot be opened (%s): moved it to %s and started an empty one",
                self.path,
                e,
                self.set_aside.name,
            )
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise JournalError(
                    f"state database {self.path} is schema version {version}, newer than this "
                    f"gateway knows ({len(MIGRATIONS)}): run the newer gateway or move the file"
                )
            for step in range(version, len(MIGRATIONS)):
                conn.execute("BEGIN IMMEDIATE")
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- health history ------------------------------------------------------------------------

    def add_transitions(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        """(device, at_ns, health, detail) rows; each device keeps its newest HEALTH_HISTORY_PER_DEVICE."""
        if not rows:
            return
        with self._tx() as c:
            c.executemany("INSERT INTO health_history (device, at_ns, health, detail) VALUES (?, ?, ?, ?)", rows)
            for device in {r[0] for r in rows}:
                c.execute(
                    "DELETE FROM health_history WHERE device = ? AND id <= (SELECT id FROM health_history "
                    "WHERE device = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (device, device, HEALTH_HISTORY_PER_DEVICE),
                )

    def transitions(self, device: str, limit: int = HEALTH_HISTORY_PER_DEVICE) -> list[tuple[int, str, str]]:
        """Newest last: (at_ns, health, detail)."""
        rows = self._conn.execute(
            "SELECT at_ns, health, detail FROM health_history WHERE device = ? ORDER BY id DESC LIMIT ?",
            (device, limit),
        ).fetchall()
        return rows[::-1]

    # -- projection state ----------------------------------------------------------------------

    def save_states(self, states: dict[str, dict[str, Any]]) -> None:
        if not states:
            return
        now = self._clock()
        with self._tx() as c:
            c.executemany(
                "INSERT INTO projection_state (name, state, saved_ns) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state, saved_ns = excluded.saved_ns",
                [(name, json.dumps(state, separators=(",", ":")), now) for name, state in states.items()],
            )

    def load_state(self, name: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT state FROM projection_state WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    # -- alerts --------------------------------------------------------------------------------

    def save_alerts(self, alerts: Sequence[Any], deliveries: Sequence[tuple[str, str]]) -> None:
        """Alert rows as they are now, and the deliveries (target, JSON) of their changes: one transaction."""
        now = self._clock()
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO alerts (id, rule, key, severity, summary, device, state, opened_ns, "
                "updated_ns, manual, occurrences, clear_since_ns, acked_by, acked_ns, note, ended_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        a.id,
                        a.rule,
                        a.key,
                        a.severity,
                        a.summary,
                        a.device,
                        a.state,
                        a.opened_ns,
                        a.updated_ns,
                        int(a.manual),
                        a.occurrences,
                        a.clear_since_ns,
                        a.acked_by,
                        a.acked_ns,
                        a.note,
                        a.ended_ns,
                    )
                    for a in alerts
                ],
            )
            c.executemany(
                "INSERT INTO deliveries (target, payload, created_ns) VALUES (?, ?, ?)",
                [(t, p, now) for t, p in deliveries],
            )

    def alert_rows(self, *, active: bool | None = None, limit: int = 500) -> list[tuple[Any, ...]]:
        """Alert rows, newest first (columns in table order)."""
        sql = "SELECT * FROM alerts"
        if active is not None:
            sql += " WHERE state IN ('open', 'acknowledged')" if active else " WHERE state IN ('resolved', 'closed')"
        return self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def max_alert_id(self) -> int:
        return self._conn.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()[0]

    def pending_deliveries(self, target: str, limit: int = 100) -> list[tuple[int, str]]:
        return self._conn.execute(
            "SELECT id, payload FROM deliveries WHERE target = ? ORDER BY id LIMIT ?", (target, limit)
        ).fetchall()

    def delivered(self, delivery_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def delivery_failed(self, delivery_id: int, error: str) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:300], delivery_id)
            )

    def pending_count(self, target: str) -> int:
        return self._conn.execute("SELECT count(*) FROM deliveries WHERE target = ?", (target,)).fetchone()[0]

    # -- occupancy history ---------------------------------------------------------------------

    def save_occupancy_minutes(self, rows: Sequence[tuple[str, int, int, int, int, int]], keep_ns: int) -> None:
        """(zone, start_ns, entered, left, occupancy, clamped) rows (a minute saved again replaces
        itself); minutes older than `keep_ns` before the newest row are dropped."""
        if not rows:
            return
        with self._tx() as c:
            c.executemany("INSERT OR REPLACE INTO occupancy_minutes VALUES (?, ?, ?, ?, ?, ?)", rows)
            c.execute("DELETE FROM occupancy_minutes WHERE start_ns < ?", (max(r[1] for r in rows) - keep_ns,))

    def occupancy_minutes(self, zone: str, start_ns: int, end_ns: int) -> list[tuple[int, int, int, int, int]]:
        """(start_ns, entered, left, occupancy, clamped) of `zone`'s minutes in [start_ns, end_ns), oldest first."""
        return self._conn.execute(
            "SELECT start_ns, entered, left_, occupancy, clamped FROM occupancy_minutes "
            "WHERE zone = ? AND start_ns >= ? AND start_ns < ? ORDER BY start_ns",
            (zone, start_ns, end_ns),
        ).fetchall()

    # -- quarantine ----------------------------------------------------------------------------

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep undecodable messages (bounded: the newest QUARANTINE_ROWS, payloads cut short)."""
        if not items:
            return
        rows = [
            (
                q.at_ns,
                q.device,
                q.topic,
                q.reason,
                q.detail[:500],
                q.size if q.size >= 0 else len(q.payload),
                bytes(q.payload[:QUARANTINE_PAYLOAD_BYTES]),
            )
            for q in items
        ]
        with self._tx() as c:
            c.executemany(
                "INSERT INTO quarantine (at_ns, device, topic, reason, detail, size, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            c.execute("DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?", (QUARANTINE_ROWS,))

    def quarantined(
        self, *, device: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[QuarantineRow]:
        """Newest first; page with `before_id`."""
        sql = "SELECT id, at_ns, device, topic, reason, detail, size, payload FROM quarantine WHERE 1=1"
        args: list[Any] = []
        if device is not None:
            sql += " AND device = ?"
            args.append(device)
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [QuarantineRow(*r) for r in self._conn.execute(sql, args)]
