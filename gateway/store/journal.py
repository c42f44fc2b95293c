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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.store.sqlite import SqliteFile, connect_wal, transaction

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
    CREATE TABLE ratings (            -- one row per rating that counts (and per expired prompt)
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,     -- case:<case id>, or rated:/unrated:<device>#<seq>@<ts>
        rated INTEGER NOT NULL,       -- 1 rated, 0 unrated (the prompt expired)
        device TEXT NOT NULL,
        seq INTEGER,
        ts_ns INTEGER NOT NULL,       -- the pad's time
        day TEXT NOT NULL,            -- the hall's local date
        case_id TEXT NOT NULL,
        window TEXT NOT NULL,
        staff TEXT NOT NULL,
        item TEXT NOT NULL,
        zone TEXT NOT NULL,
        ticket TEXT NOT NULL,
        score INTEGER,
        reasons TEXT NOT NULL         -- comma-joined
    );
    CREATE INDEX ratings_ts ON ratings (ts_ns);
    CREATE INDEX ratings_window_ts ON ratings (window, ts_ns);
    CREATE TABLE rating_events (      -- every distinct rated/unrated event: resends are the same row
        event TEXT PRIMARY KEY,       -- <device>#<seq>@<ts>
        key TEXT NOT NULL,
        ts_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX rating_events_ts ON rating_events (ts_ns);
    CREATE TABLE workorders (         -- 差评 rectification orders (整改工单)
        id INTEGER PRIMARY KEY,
        rating_key TEXT NOT NULL UNIQUE,
        case_id TEXT NOT NULL,
        window TEXT NOT NULL,
        staff TEXT NOT NULL,
        item TEXT NOT NULL,
        score INTEGER NOT NULL,
        reasons TEXT NOT NULL,
        device TEXT NOT NULL,
        rated_ns INTEGER NOT NULL,
        opened_ns INTEGER NOT NULL,
        deadline_ns INTEGER NOT NULL,
        state TEXT NOT NULL,          -- open, called_back, rectified, appealed, closed
        updated_ns INTEGER NOT NULL,
        callback_note TEXT,
        rectification TEXT,
        appeal_reason TEXT,
        close_note TEXT
    );
    CREATE INDEX workorders_state ON workorders (state, deadline_ns);
    CREATE TABLE workorder_log (      -- every transition: who, when, from, to, note (the audit)
        id INTEGER PRIMARY KEY,
        workorder INTEGER NOT NULL,
        at_ns INTEGER NOT NULL,
        action TEXT NOT NULL,
        who TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        note TEXT NOT NULL
    );
    CREATE INDEX workorder_log_order ON workorder_log (workorder, id);
    CREATE TABLE punches (            -- attendance punches, one row per device, seq and time
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,         -- -1 when the device sends none
        ts_ns INTEGER NOT NULL,       -- the machine's time
        day TEXT NOT NULL,            -- the hall's local date of ts_ns
        staff TEXT NOT NULL,
        method TEXT NOT NULL,
        direction TEXT NOT NULL,      -- in, out, unknown (as punched)
        flag TEXT,                    -- past, future: an impossible date (clock reset), left out of the figures
        received_ns INTEGER NOT NULL,
        PRIMARY KEY (device, seq, ts_ns)
    ) WITHOUT ROWID;
    CREATE INDEX punches_day_staff ON punches (day, staff, ts_ns);
    CREATE INDEX punches_flag ON punches (flag) WHERE flag IS NOT NULL;
    """,
    """
    CREATE TABLE commands (           -- one per Idempotency-Key: pending until the outcome is known
        key TEXT PRIMARY KEY,         -- the caller's actor and Idempotency-Key
        id TEXT NOT NULL UNIQUE,      -- the command id on the wire (devices drop a repeated id)
        fingerprint TEXT NOT NULL,    -- what was asked: a key reused for another request is refused
        device TEXT NOT NULL,
        request TEXT NOT NULL,        -- JSON: action, op, params, part, actor, role, reason
        created_ns INTEGER NOT NULL,
        sent_ns INTEGER,              -- set before the first byte goes to the device: never sent twice
        status INTEGER,               -- the HTTP answer once the outcome is known
        outcome TEXT                  -- its JSON body
    );
    CREATE INDEX commands_pending ON commands (status) WHERE status IS NULL;
    CREATE INDEX commands_created ON commands (created_ns);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at_ns INTEGER NOT NULL,
        device TEXT NOT NULL,
        part TEXT,                    -- slot 3, door 5
        action TEXT NOT NULL,         -- unlock, deposit, pickup
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT NOT NULL,        -- confirmed, failed, timeout, refused, denied
        error TEXT,
        latency_ms REAL,
        command_id TEXT,
        exported INTEGER NOT NULL DEFAULT 0  -- in the outbox (a full outbox: retried later)
    );
    CREATE INDEX audit_at ON audit (at_ns);
    CREATE INDEX audit_device ON audit (device, at_ns);
    CREATE INDEX audit_actor ON audit (actor, at_ns);
    CREATE INDEX audit_unexported ON audit (id) WHERE exported = 0;
    CREATE TABLE pickup_items (
        id INTEGER PRIMARY KEY,
        locker TEXT NOT NULL,
        door INTEGER NOT NULL,
        item TEXT NOT NULL,
        applicant TEXT NOT NULL,
        code_hash BLOB NOT NULL,      -- HMAC-SHA256 of the code under the gateway's key, never the code
        state TEXT NOT NULL,          -- waiting, opened, collected
        deposited_by TEXT NOT NULL,
        deposited_ns INTEGER NOT NULL,
        expires_ns INTEGER NOT NULL,
        opened_ns INTEGER,
        closed_ns INTEGER
    );
    CREATE UNIQUE INDEX pickup_active_code ON pickup_items (code_hash) WHERE state IN ('waiting', 'opened');
    CREATE UNIQUE INDEX pickup_active_door ON pickup_items (locker, door) WHERE state IN ('waiting', 'opened');
    CREATE TABLE gateway_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
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
    """
    ALTER TABLE pickup_items ADD COLUMN reminded_ns INTEGER;  -- the applicant was reminded of the expiry
    """,
    """
    -- a late answer (outcome opened_late, failed_late) is a row of its own naming the row it amends
    ALTER TABLE audit ADD COLUMN amends INTEGER;
    CREATE UNIQUE INDEX audit_amends ON audit (amends) WHERE amends IS NOT NULL;
    CREATE INDEX audit_command ON audit (command_id) WHERE command_id IS NOT NULL;
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


def insert_audit(c: sqlite3.Connection, a: dict[str, Any]) -> int:
    """One audit row, inside the caller's transaction; its id."""
    cur = c.execute(
        "INSERT INTO audit (at_ns, device, part, action, actor, role, reason, outcome, error, latency_ms, "
        "command_id, amends, exported) VALUES (:at_ns, :device, :part, :action, :actor, :role, :reason, "
        ":outcome, :error, :latency_ms, :command_id, :amends, :exported)",
        {"exported": 0, "amends": None, **a},
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def insert_commands(
    c: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str, dict[str, Any], int, int | None]]
) -> None:
    """(key, id, fingerprint, device, request, created_ns, sent_ns) command rows, inside the
    caller's transaction."""
    c.executemany(
        "INSERT INTO commands (key, id, fingerprint, device, request, created_ns, sent_ns) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(k, i, f, d, json.dumps(r, ensure_ascii=False), n, s) for k, i, f, d, r, n, s in rows],
    )


class JournalError(RuntimeError):
    pass


class Journal:
    def __init__(self, path: str | Path, *, clock: Any = time.time_ns) -> None:
        self.path = Path(path)
        self._clock = clock
        self.set_aside: Path | None = None
        # Shared with the records' connections (gateway/store/records.py): one WAL bound, and one
        # answer to "can the state database be written", which /readyz gives.
        self.file = SqliteFile.of(self.path, "state database")
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
        conn = connect_wal(self.file, synchronous="FULL", busy_timeout_ms=1000)
        try:
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
    def connection(self) -> sqlite3.Connection:
        """For the repositories of the rooms that keep their tables here (gateway/commands/ledger.py)."""
        return self._conn

    @property
    def version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def retry_writes(self) -> None:
        """Called every half second (gateway/runtime.py); does something only while the file cannot
        be written (gateway/store/writes.py): the writes waiting in memory, then a probe. Raises
        nothing but a bug: the outcome is the file's `writes`."""
        self.file.writes.retry(self._probe)

    def _probe(self) -> None:
        # A row of its own beside the projections' (no projection is named with a dot first).
        with transaction(self._conn) as c:
            c.execute(
                "INSERT OR REPLACE INTO projection_state (name, state, saved_ns) VALUES ('.writable', '{}', ?)",
                (self._clock(),),
            )

    # -- health history ------------------------------------------------------------------------

    def add_transitions(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        """(device, at_ns, health, detail) rows; each device keeps its newest HEALTH_HISTORY_PER_DEVICE."""
        if not rows:
            return
        with transaction(self._conn) as c:
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
        with transaction(self._conn) as c:
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
        with transaction(self._conn) as c:
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

    def queue_delivery(self, target: str, payload: str, reminded_item: int | None = None) -> None:
        """One delivery for `target` (and, for a reminder, its item marked reminded): one transaction."""
        now = self._clock()
        with transaction(self._conn) as c:
            c.execute("INSERT INTO deliveries (target, payload, created_ns) VALUES (?, ?, ?)", (target, payload, now))
            if reminded_item is not None:
                c.execute("UPDATE pickup_items SET reminded_ns = ? WHERE id = ?", (now, reminded_item))

    def delivered(self, delivery_id: int) -> None:
        with transaction(self._conn) as c:
            c.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def delivery_failed(self, delivery_id: int, error: str) -> None:
        with transaction(self._conn) as c:
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
        with transaction(self._conn) as c:
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
        with transaction(self._conn) as c:
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

    # -- commands, audit, pickup items (gateway/commands/; the desk's own rows: its ledger.py) ------

    def command(self, key: str) -> tuple[Any, ...] | None:
        """(key, id, fingerprint, device, request, created_ns, sent_ns, status, outcome) or None."""
        return self._conn.execute("SELECT * FROM commands WHERE key = ?", (key,)).fetchone()

    def begin_command(
        self,
        key: str,
        cmd_id: str,
        fingerprint: str,
        device: str,
        request: dict[str, Any],
        now_ns: int,
        sent_ns: int | None = None,
    ) -> None:
        """A command row as the desk writes it before sending (its ledger batches them)."""
        with transaction(self._conn) as c:
            insert_commands(c, [(key, cmd_id, fingerprint, device, request, now_ns, sent_ns)])

    def command_sent(self, key: str, now_ns: int) -> None:
        with transaction(self._conn) as c:
            c.execute("UPDATE commands SET sent_ns = ? WHERE key = ? AND sent_ns IS NULL", (now_ns, key))

    def add_audit(self, audit: dict[str, Any]) -> int:
        with transaction(self._conn) as c:
            return insert_audit(c, audit)

    def unexported_audit(self, limit: int = 500) -> list[dict[str, Any]]:
        return self._audit_rows("WHERE exported = 0 ORDER BY id LIMIT ?", [limit])

    def audit(
        self,
        *,
        device: str | None = None,
        actor: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int = 200,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; page with `before_id`."""
        where, args = ["1=1"], []
        for sql, value in (
            ("device = ?", device),
            ("actor = ?", actor),
            ("at_ns >= ?", start_ns),
            ("at_ns < ?", end_ns),
            ("id < ?", before_id),
        ):
            if value is not None:
                where.append(sql)
                args.append(value)
        return self._audit_rows(f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit])

    def _audit_rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        # `amended_by`: the row a late answer added (the timed-out row itself stays as it was written)
        cur = self._conn.execute(
            "SELECT id, at_ns, device, part, action, actor, role, reason, outcome, error, latency_ms, command_id, "
            "amends, (SELECT b.id FROM audit b WHERE b.amends = audit.id) AS amended_by "
            f"FROM audit {tail}",
            args,
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def secret_key(self, name: str, make: Any) -> bytes:
        """The gateway's secret `name`, made by `make()` the first time (kept in this database)."""
        row = self._conn.execute("SELECT value FROM gateway_secrets WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return bytes(row[0])
        value = bytes(make())
        with transaction(self._conn) as c:
            c.execute("INSERT OR IGNORE INTO gateway_secrets (name, value) VALUES (?, ?)", (name, value))
        return bytes(self._conn.execute("SELECT value FROM gateway_secrets WHERE name = ?", (name,)).fetchone()[0])

    def add_pickup_item(self, row: dict[str, Any]) -> int:
        """Raises sqlite3.IntegrityError when the code hash or the door is already active."""
        with transaction(self._conn) as c:
            cur = c.execute(
                "INSERT INTO pickup_items (locker, door, item, applicant, code_hash, state, deposited_by, "
                "deposited_ns, expires_ns) VALUES (:locker, :door, :item, :applicant, :code_hash, 'waiting', "
                ":deposited_by, :deposited_ns, :expires_ns)",
                row,
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def pickup_items(
        self, *, locker: str | None = None, states: Sequence[str] = ("waiting", "opened"), limit: int = 1000
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT id, locker, door, item, applicant, code_hash, state, deposited_by, deposited_ns, expires_ns, "
            f"opened_ns, closed_ns, reminded_ns FROM pickup_items WHERE state IN ({','.join('?' * len(states))})"
        )
        args: list[Any] = list(states)
        if locker is not None:
            sql += " AND locker = ?"
            args.append(locker)
        cur = self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def set_pickup_state(self, item_id: int, state: str, at_ns: int) -> None:
        column = {"opened": "opened_ns", "collected": "closed_ns", "waiting": "opened_ns"}[state]
        value = None if state == "waiting" else at_ns  # back to waiting: it was not taken
        with transaction(self._conn) as c:
            c.execute(f"UPDATE pickup_items SET state = ?, {column} = ? WHERE id = ?", (state, value, item_id))
