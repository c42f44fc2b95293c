"""Ratings (the one that counts per case, every distinct event) and the 差评 work orders they open:
the rating pad's store (`KIND.stores`) in the state database.

Uniqueness is the database's: a rating key and an event id are unique keys, so a resend, a
replayed backlog or a restart never counts anything twice. A store on a connection of its own,
staged per batch (gateway/store/staged.py says why).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from gateway.domain.rated_visits import RatingRef
from gateway.domain.ratings import BAD, SCORES, Figures, Rating, first
from gateway.domain.workorders import DUE, WorkOrder
from gateway.store.repos.deliveries import Deliveries
from gateway.store.sqlite import transaction
from gateway.store.staged import Staged

GROUP_COLUMNS = {"window": "window", "staff": "staff", "item": "item", "zone": "zone", "day": "day"}
IN_CHUNK = 512  # parameters of one `IN (...)` lookup (SQLite allows far more; this keeps each statement small)
RATING_COLUMNS = "id, key, rated, device, seq, ts_ns, day, case_id, window, staff, item, zone, ticket, score, reasons"


def in_size(n: int) -> int:
    """The `IN (...)` size for `n` keys (1 <= n <= IN_CHUNK): the next power of two."""
    return 1 << (n - 1).bit_length()


def _rating_row(r: Rating) -> tuple[Any, ...]:
    return (
        r.key,
        int(r.rated),
        r.device,
        r.seq,
        r.ts_ns,
        r.day,
        r.case_id,
        r.window,
        r.staff,
        r.item,
        r.zone,
        r.ticket,
        r.score,
        ",".join(r.reasons),
    )


def rating_of(row: Sequence[Any]) -> Rating:
    _id, key, rated, device, seq, ts, day, case, window, staff, item, zone, ticket, score, reasons = row
    return Rating(
        key, bool(rated), device, seq, ts, day, case, window, staff, item, zone, ticket, score,
        tuple(x for x in reasons.split(",") if x),
    )  # fmt: skip


class RatingStore(Staged):
    name = "ratings"
    migrations = (
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
        """,
        """
        ALTER TABLE workorders ADD COLUMN satisfaction TEXT;  -- said on the call-back: satisfied, dissatisfied
        """,
        """
        CREATE TABLE workorders_overdue_told (  -- orders whose going overdue is on the MQTT feed
            workorder INTEGER PRIMARY KEY
        );
        """,
    )

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._events: dict[str, Rating] = {}  # new event ids
        self._best: dict[str, Rating] = {}  # key -> the rating that counts, where it changed
        self._orders: dict[str, WorkOrder] = {}  # rating key -> new order
        # (order, event, at) -> the (target, JSON) rows telling it on MQTT (feed.py), queued in the
        # change's own transaction; None: no feed
        self.told: Callable[[WorkOrder, str, int], list[tuple[str, str]]] | None = None

    def pending(self) -> bool:
        return bool(self._events or self._orders)

    def clear(self) -> None:
        self._events.clear()
        self._best.clear()
        self._orders.clear()

    def add(self, r: Rating) -> str:
        """'new', 'resend' (this event again), 'duplicate' (another rating of a rated case) or
        'replaced' (another rating of a rated case, earlier than the one counted: it counts now)."""
        return self.add_many([r])[0]

    def add_many(self, ratings: Sequence[Rating]) -> list[str]:
        """`add` for a batch, in order, with two lookups in the database for all of it (not two
        per rating: at a few thousand ratings a second those queries were most of the cost)."""
        if not ratings:
            return []
        seen = self._known(
            "SELECT event FROM rating_events WHERE event IN ({})", {r.event_id for r in ratings} - self._events.keys()
        )
        stored = {
            row[1]: rating_of(row)
            for row in self._rows(
                f"SELECT {RATING_COLUMNS} FROM ratings WHERE key IN ({{}})",
                {r.key for r in ratings} - self._best.keys(),
            )
        }
        out = []
        for r in ratings:
            if r.event_id in self._events or r.event_id in seen:
                out.append("resend")
                continue
            self._events[r.event_id] = r
            have = self._best.get(r.key) or stored.get(r.key)
            if have is None:
                self._best[r.key] = r
                out.append("new")
            elif first(have, r) is r:
                self._best[r.key] = r
                out.append("replaced")
            else:
                out.append("duplicate")
        return out

    def _rows(self, sql: str, keys: set[str]) -> list[tuple[Any, ...]]:
        """Rows whose key is one of `keys`: `sql` has one `IN ({})`, filled a chunk at a time."""
        out: list[tuple[Any, ...]] = []
        items = list(keys)
        for i in range(0, len(items), IN_CHUNK):
            chunk = items[i : i + IN_CHUNK]
            # Padded to a power of two with its last key (a repeat changes nothing in an IN): a
            # few statement texts, not one per batch size. Each text is a prepared statement the
            # connection caches (128 of them), some tens of KiB each at a few hundred parameters.
            chunk += chunk[-1:] * (in_size(len(chunk)) - len(chunk))
            out += self.conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
        return out

    def _known(self, sql: str, keys: set[str]) -> set[str]:
        return {row[0] for row in self._rows(sql, keys)}

    def write(self, c: sqlite3.Connection) -> None:
        c.executemany(
            "INSERT OR IGNORE INTO rating_events (event, key, ts_ns) VALUES (?, ?, ?)",
            [(r.event_id, r.key, r.ts_ns) for r in self._events.values()],
        )
        # The earliest rating of a key counts, whatever order they are written in.
        c.executemany(
            "INSERT INTO ratings (key, rated, device, seq, ts_ns, day, case_id, window, staff, item, zone, "
            "ticket, score, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
            "SET rated = excluded.rated, device = excluded.device, seq = excluded.seq, ts_ns = excluded.ts_ns, "
            "day = excluded.day, case_id = excluded.case_id, window = excluded.window, staff = excluded.staff, "
            "item = excluded.item, zone = excluded.zone, ticket = excluded.ticket, score = excluded.score, "
            "reasons = excluded.reasons WHERE (excluded.ts_ns, excluded.device, coalesce(excluded.seq, 0)) "
            "< (ratings.ts_ns, ratings.device, coalesce(ratings.seq, 0))",
            [_rating_row(r) for r in self._best.values()],
        )
        for o in self._orders.values():
            cur = c.execute(
                "INSERT OR IGNORE INTO workorders (rating_key, case_id, window, staff, item, score, reasons, "
                "device, rated_ns, opened_ns, deadline_ns, state, updated_ns, callback_note, rectification, "
                "appeal_reason, close_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _order_row(o),
            )
            if cur.rowcount:
                c.execute(
                    "INSERT INTO workorder_log (workorder, at_ns, action, who, from_state, to_state, note) "
                    "VALUES (?, ?, 'open', 'gateway', NULL, 'open', ?)",
                    (cur.lastrowid, o.opened_ns, f"差评 {o.score} at {o.window}"),
                )
                if self.told is not None:
                    Deliveries.queue_in(c, self.told(replace(o, id=cur.lastrowid), "open", o.opened_ns), o.opened_ns)

    def summary(
        self, start_ns: int, end_ns: int, by: str | None, window: str | None = None
    ) -> tuple[dict[str, Figures], int]:
        """Figures per group over [start, end), and the duplicates seen in it."""
        self.flush_for_read()
        group = GROUP_COLUMNS[by] if by else "''"
        where, args = "ts_ns >= ? AND ts_ns < ?", [start_ns, end_ns]
        if window is not None:
            where += " AND window = ?"
            args.append(window)
        per_score = ", ".join(f"sum(score = {s})" for s in SCORES)
        bad = ", ".join(str(s) for s in BAD)
        out: dict[str, Figures] = {}
        # One pass over the period: the reasons of the 差评 come along, joined (they hold no commas).
        for g, rated, unrated, no_case, total, reasons, *counts in self.conn.execute(
            f"SELECT {group}, sum(rated), sum(1 - rated), sum(rated AND case_id = ''), coalesce(sum(score), 0), "
            f"group_concat(CASE WHEN rated AND score IN ({bad}) AND reasons != '' THEN reasons END), "
            f"{per_score} FROM ratings WHERE {where} GROUP BY 1",
            args,
        ):
            f = out[g] = Figures(rated=rated, unrated=unrated, score_sum=total, no_case_id=no_case)
            f.scores = {s: n or 0 for s, n in zip(SCORES, counts, strict=True)}
            if reasons:
                f.bad_reasons.update(reasons.split(","))
        events = self.conn.execute(
            "SELECT count(*) FROM rating_events WHERE ts_ns >= ? AND ts_ns < ?", (start_ns, end_ns)
        ).fetchone()[0]
        counted = sum(f.rated + f.unrated for f in out.values()) if window is None else events
        return out, max(0, events - counted)

    def ratings(
        self,
        *,
        start_ns: int,
        end_ns: int,
        window: str | None = None,
        score: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[tuple[int, Rating]]:
        """Newest first, paged with before_id: (id, rating)."""
        self.flush_for_read()
        sql = f"SELECT {RATING_COLUMNS} FROM ratings WHERE ts_ns >= ? AND ts_ns < ?"
        args: list[Any] = [start_ns, end_ns]
        for column, value in (("window", window), ("score", score)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [(row[0], rating_of(row)) for row in self.conn.execute(sql, args)]

    def between(self, start_ns: int, end_ns: int, window: str | None = None) -> list[Rating]:
        """Every rating that counts (and expired prompt) in [start, end), of one window or all."""
        self.flush_for_read()
        sql, args = f"SELECT {RATING_COLUMNS} FROM ratings WHERE ts_ns >= ? AND ts_ns < ?", [start_ns, end_ns]
        if window is not None:
            sql += " AND window = ?"
            args.append(window)
        return [rating_of(row) for row in self.conn.execute(sql, args)]

    def refs(self, start_ns: int, end_ns: int) -> list[RatingRef]:
        """What of each rating in [start, end) names its visit (a month's ratings, as tuples)."""
        self.flush_for_read()
        sql = "SELECT key, rated, ts_ns, day, case_id, window, ticket FROM ratings WHERE ts_ns >= ? AND ts_ns < ?"
        return list(map(RatingRef._make, self.conn.execute(sql, (start_ns, end_ns))))

    def bad_by_window(self, start_ns: int, end_ns: int) -> dict[str, int]:
        self.flush_for_read()
        bad = ", ".join(str(s) for s in BAD)
        return dict(
            self.conn.execute(
                f"SELECT window, count(*) FROM ratings WHERE ts_ns >= ? AND ts_ns < ? AND rated = 1 "
                f"AND score IN ({bad}) GROUP BY window",
                (start_ns, end_ns),
            ).fetchall()
        )

    # -- work orders -------------------------------------------------------------------------

    def open_order(self, o: WorkOrder) -> bool:
        """Stage a new order for a 差评; False when its rating already has one."""
        if (
            o.rating_key in self._orders
            or self.conn.execute("SELECT 1 FROM workorders WHERE rating_key = ?", (o.rating_key,)).fetchone()
        ):
            return False
        self._orders[o.rating_key] = o
        return True

    def order(self, order_id: int) -> WorkOrder | None:
        self.flush_for_read()
        row = self.conn.execute("SELECT * FROM workorders WHERE id = ?", (order_id,)).fetchone()
        return _order(row) if row else None

    def orders(
        self,
        *,
        state: str | None = None,
        overdue_at: int | None = None,
        window: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[WorkOrder]:
        self.flush_for_read()
        sql, args = "SELECT * FROM workorders WHERE 1=1", []
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        if window is not None:
            sql += " AND window = ?"
            args.append(window)
        if overdue_at is not None:
            sql += f" AND state IN ({', '.join('?' * len(DUE))}) AND deadline_ns <= ?"
            args += [*DUE, overdue_at]
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_order(r) for r in self.conn.execute(sql, args)]

    def first_day(self) -> str | None:
        self.flush_for_read()
        return self.conn.execute("SELECT min(day) FROM ratings").fetchone()[0]

    def orders_rated(self, start_ns: int, end_ns: int) -> list[WorkOrder]:
        """The orders of the 差评 given in [start, end), oldest first."""
        self.flush_for_read()
        sql = "SELECT * FROM workorders WHERE rated_ns >= ? AND rated_ns < ? ORDER BY id"
        return [_order(r) for r in self.conn.execute(sql, (start_ns, end_ns))]

    def save_transition(self, o: WorkOrder, action: str, who: str, from_state: str, note: str) -> None:
        self.flush()
        notes = (o.callback_note, o.rectification, o.appeal_reason, o.close_note)
        with transaction(self.conn) as c:
            c.execute(
                "UPDATE workorders SET state = ?, updated_ns = ?, callback_note = ?, rectification = ?, "
                "appeal_reason = ?, close_note = ?, satisfaction = ? WHERE id = ?",
                (o.state, o.updated_ns, *notes, o.satisfaction, o.id),
            )
            c.execute(
                "INSERT INTO workorder_log (workorder, at_ns, action, who, from_state, to_state, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (o.id, o.updated_ns, action, who, from_state, o.state, note),
            )
            if self.told is not None:
                Deliveries.queue_in(c, self.told(o, action, o.updated_ns), o.updated_ns)

    def log(self, order_id: int) -> list[tuple[int, str, str, str | None, str, str]]:
        """(at_ns, action, who, from, to, note), oldest first."""
        self.flush_for_read()
        return self.conn.execute(
            "SELECT at_ns, action, who, from_state, to_state, note FROM workorder_log WHERE workorder = ? ORDER BY id",
            (order_id,),
        ).fetchall()


def _order_row(o: WorkOrder) -> tuple[Any, ...]:
    """Every column but the id, in table order."""
    return (
        o.rating_key, o.case_id, o.window, o.staff, o.item, o.score, ",".join(o.reasons), o.device, o.rated_ns,
        o.opened_ns, o.deadline_ns, o.state, o.updated_ns, o.callback_note, o.rectification, o.appeal_reason,
        o.close_note,
    )  # fmt: skip


def _order(row: Sequence[Any]) -> WorkOrder:
    values = list(row)
    values[7] = tuple(x for x in values[7].split(",") if x)
    return WorkOrder(*values)
