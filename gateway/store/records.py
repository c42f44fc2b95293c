"""The hall's records in the state database: ratings, work orders and punches.

Their tables are one migration of gateway/store/journal.py; these stores run their queries on the
Journal's connection (same thread, same file), each change one short transaction. Uniqueness is
the database's: a rating key, an event id, a punch's device, seq and time are unique keys, so a
resend, a replayed backlog or a restart never counts anything twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple
from typing import Any

from gateway.domain.attendance import Punch
from gateway.domain.ratings import BAD, SCORES, Figures, Rating, first
from gateway.domain.workorders import DUE, WorkOrder

GROUP_COLUMNS = {"window": "window", "staff": "staff", "item": "item", "zone": "zone", "day": "day"}
RATING_COLUMNS = "id, key, rated, device, seq, ts_ns, day, case_id, window, staff, item, zone, ticket, score, reasons"


@contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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


class RatingStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, r: Rating) -> str:
        """'new', 'resend' (this event again), 'duplicate' (another rating of a rated case) or
        'replaced' (another rating of a rated case, earlier than the one counted: it counts now)."""
        with _tx(self.conn) as c:
            if (
                c.execute(
                    "INSERT OR IGNORE INTO rating_events (event, key, ts_ns) VALUES (?, ?, ?)",
                    (r.event_id, r.key, r.ts_ns),
                ).rowcount
                == 0
            ):
                return "resend"
            have = c.execute(f"SELECT {RATING_COLUMNS} FROM ratings WHERE key = ?", (r.key,)).fetchone()
            row = _rating_row(r)
            if have is None:
                c.execute(
                    "INSERT INTO ratings (key, rated, device, seq, ts_ns, day, case_id, window, staff, item, zone, "
                    "ticket, score, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                return "new"
            if first(rating_of(have), r) is r:
                c.execute(
                    "UPDATE ratings SET key = ?, rated = ?, device = ?, seq = ?, ts_ns = ?, day = ?, case_id = ?, "
                    "window = ?, staff = ?, item = ?, zone = ?, ticket = ?, score = ?, reasons = ? WHERE id = ?",
                    (*row, have[0]),
                )
                return "replaced"
            return "duplicate"

    def summary(
        self, start_ns: int, end_ns: int, by: str | None, window: str | None = None
    ) -> tuple[dict[str, Figures], int]:
        """Figures per group over [start, end), and the duplicates seen in it."""
        group = GROUP_COLUMNS[by] if by else "''"
        where, args = "ts_ns >= ? AND ts_ns < ?", [start_ns, end_ns]
        if window is not None:
            where += " AND window = ?"
            args.append(window)
        per_score = ", ".join(f"sum(score = {s})" for s in SCORES)
        out: dict[str, Figures] = {}
        for g, rated, unrated, no_case, total, *counts in self.conn.execute(
            f"SELECT {group}, sum(rated), sum(1 - rated), sum(rated AND case_id = ''), coalesce(sum(score), 0), "
            f"{per_score} FROM ratings WHERE {where} GROUP BY 1",
            args,
        ):
            f = out[g] = Figures(rated=rated, unrated=unrated, score_sum=total, no_case_id=no_case)
            f.scores = {s: n or 0 for s, n in zip(SCORES, counts, strict=True)}
        bad = ", ".join(str(s) for s in BAD)
        for g, reasons in self.conn.execute(
            f"SELECT {group}, reasons FROM ratings WHERE {where} AND rated = 1 AND score IN ({bad}) AND reasons != ''",
            args,
        ):
            out[g].bad_reasons.update(reasons.split(","))
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

    def bad_by_window(self, start_ns: int, end_ns: int) -> dict[str, int]:
        bad = ", ".join(str(s) for s in BAD)
        return dict(
            self.conn.execute(
                f"SELECT window, count(*) FROM ratings WHERE ts_ns >= ? AND ts_ns < ? AND rated = 1 "
                f"AND score IN ({bad}) GROUP BY window",
                (start_ns, end_ns),
            ).fetchall()
        )

    # -- work orders -------------------------------------------------------------------------

    def open_order(self, o: WorkOrder, who: str = "gateway") -> WorkOrder | None:
        """A new order for a 差评 (None when its rating already has one)."""
        with _tx(self.conn) as c:
            row = list(astuple(o))
            row[7] = ",".join(o.reasons)
            cur = c.execute(
                "INSERT OR IGNORE INTO workorders (rating_key, case_id, window, staff, item, score, reasons, "
                "device, rated_ns, opened_ns, deadline_ns, state, updated_ns, callback_note, rectification, "
                "appeal_reason, close_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row[1:],
            )
            if cur.rowcount == 0:
                return None
            order_id = cur.lastrowid
            assert order_id is not None
            c.execute(
                "INSERT INTO workorder_log (workorder, at_ns, action, who, from_state, to_state, note) "
                "VALUES (?, ?, 'open', ?, NULL, 'open', ?)",
                (order_id, o.opened_ns, who, f"差评 {o.score} at {o.window}"),
            )
        return WorkOrder(order_id, *astuple(o)[1:])

    def order(self, order_id: int) -> WorkOrder | None:
        row = self.conn.execute("SELECT * FROM workorders WHERE id = ?", (order_id,)).fetchone()
        return _order(row) if row else None

    def orders(
        self, *, state: str | None = None, overdue_at: int | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[WorkOrder]:
        sql, args = "SELECT * FROM workorders WHERE 1=1", []
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        if overdue_at is not None:
            sql += f" AND state IN ({', '.join('?' * len(DUE))}) AND deadline_ns <= ?"
            args += [*DUE, overdue_at]
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_order(r) for r in self.conn.execute(sql, args)]

    def save_transition(self, o: WorkOrder, action: str, who: str, from_state: str, note: str) -> None:
        with _tx(self.conn) as c:
            c.execute(
                "UPDATE workorders SET state = ?, updated_ns = ?, callback_note = ?, rectification = ?, "
                "appeal_reason = ?, close_note = ? WHERE id = ?",
                (o.state, o.updated_ns, o.callback_note, o.rectification, o.appeal_reason, o.close_note, o.id),
            )
            c.execute(
                "INSERT INTO workorder_log (workorder, at_ns, action, who, from_state, to_state, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (o.id, o.updated_ns, action, who, from_state, o.state, note),
            )

    def log(self, order_id: int) -> list[tuple[int, str, str, str | None, str, str]]:
        """(at_ns, action, who, from, to, note), oldest first."""
        return self.conn.execute(
            "SELECT at_ns, action, who, from_state, to_state, note FROM workorder_log WHERE workorder = ? ORDER BY id",
            (order_id,),
        ).fetchall()


def _order(row: Sequence[Any]) -> WorkOrder:
    values = list(row)
    values[7] = tuple(x for x in values[7].split(",") if x)
    return WorkOrder(*values)


class PunchStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, p: Punch, day: str, flag: str | None, now_ns: int) -> bool:
        """False when this punch (device, seq, time) is already stored."""
        return (
            self.conn.execute(
                "INSERT OR IGNORE INTO punches (device, seq, ts_ns, day, staff, method, direction, flag, received_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.device, -1 if p.seq is None else p.seq, p.ts_ns, day, p.staff, p.method, p.direction, flag, now_ns),
            ).rowcount
            == 1
        )

    def day(self, day: str) -> dict[str, list[Punch]]:
        """The day's punches per person (those with an impossible date left out)."""
        out: dict[str, list[Punch]] = {}
        for device, seq, ts, staff, method, direction in self.conn.execute(
            "SELECT device, seq, ts_ns, staff, method, direction FROM punches WHERE day = ? AND flag IS NULL",
            (day,),
        ):
            out.setdefault(staff, []).append(Punch(device, None if seq == -1 else seq, ts, staff, method, direction))
        return out

    def set_aside(self) -> dict[str, int]:
        """Punches left out of the figures, by why (past, future)."""
        return dict(self.conn.execute("SELECT flag, count(*) FROM punches WHERE flag IS NOT NULL GROUP BY flag"))
