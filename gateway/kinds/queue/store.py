"""The queue's visits in the state database: the kind's store (`KIND.stores`), one row per visit,
staged per batch like the other kinds' records (gateway/store/staged.py says why).

A visit is one ticket of one day and generation: tickets restart daily, and a queue server that
restarts its numbering the same day issues A001 again, which is another visit (generation 1).
The row holds the whole visit (its transactions and the ids of the events applied), rewritten as
its events arrive: a resend finds its id among them and changes nothing.

Beside it, one row per transaction in `queue_transactions` with what the summary groups and counts
(its line, window, staff, item and hour, its outcome, its waiting and handling times), written in
the same transaction as the visit: the summary reads those narrow rows, a day at a time, and keeps
each whole day's figures (`queue_day_figures`, and in memory) until its visits change
(gateway/kinds/queue/figures.py), instead of reading and decoding every visit's body at each
request (seconds for a month of a large hall). A state file whose visits were kept before these
tables has their rows worked out from the visits once, when the store is first attached (`rebuild`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gateway.domain.queue import Transaction, Visit
from gateway.kinds.queue.figures import COLUMNS, KEY_AT, DayFigures, combine, pack, parts, unpack
from gateway.store.sqlite import transaction
from gateway.store.staged import StagedRows

Key = tuple[str, str, int]  # (day, ticket, generation)
FIELDS = ("ended_ns", "window", "staff", "item", "line", "case_id")  # of a served visit's last transaction
TX_FIELDS = tuple(f.name for f in fields(Transaction))
DAY = timedelta(days=1)
DAYS_KEPT = 100  # days' figures by one grouping kept in memory (a month by line, window and in total: 90)


def dump(visit: Visit) -> str:
    return json.dumps(
        {
            "tx": [{name: getattr(t, name) for name in TX_FIELDS} for t in visit.transactions],
            "unissued": visit.unissued,
            "seen": sorted(visit.seen),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def load(day: str, ticket: str, text: str) -> Visit:
    data = json.loads(text)
    return Visit(
        day=day,
        ticket=ticket,
        transactions=tuple(Transaction(**t) for t in data["tx"]),
        unissued=bool(data["unissued"]),
        seen=frozenset(data["seen"]),
    )


def _at(visit: Visit) -> int | None:
    """When the visit began: its issue, or its first known event's time."""
    tx = visit.transactions[0]
    return tx.queued_ns if tx.queued_ns is not None else tx.first_called_ns or tx.started_ns or tx.ended_ns


def transaction_rows(key: Key, at: int | None, visit: Visit, hour_of: Callable[[int], str]) -> list[tuple[Any, ...]]:
    """The visit's rows of queue_transactions (what `summarise` in gateway/domain/queue.py counts)."""
    rows = []
    for n, tx in enumerate(visit.transactions):
        began = tx.queued_ns if tx.queued_ns is not None else tx.first_called_ns
        first = n == 0
        rows.append(
            (
                -1 if at is None else at,
                *key,
                n,
                "" if began is None else hour_of(began),
                tx.line,
                tx.window,
                tx.staff,
                tx.item,
                int(first and not visit.unissued),
                int(first and not visit.unissued and tx.source == "appointment"),
                int(first and visit.unissued),
                tx.outcome,
                tx.waiting_ns,
                tx.handling_ns,
            )
        )
    return rows


def _hour_utc(ts_ns: int) -> str:
    return f"{ts_ns // 3_600_000_000_000 % 24:02d}"


def _day_utc(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).date().isoformat()


class VisitStore(StagedRows):
    name = "queue_visits"
    migrations = (
        """
        CREATE TABLE queue_visits (           -- queue visits (排队叫号), one row per ticket, day and generation
            day TEXT NOT NULL,            -- the hall's local date of the visit's first event
            ticket TEXT NOT NULL,
            generation INTEGER NOT NULL,  -- 0, then 1, 2... when the server issued the ticket again that day
            line TEXT NOT NULL,           -- the line it was issued in
            at_ns INTEGER,                -- issued (or first seen) at
            ended INTEGER NOT NULL,       -- 1 once served, no-show (a transfer waits again)
            body TEXT NOT NULL,           -- the visit: transactions and the ids of the events applied
            PRIMARY KEY (day, ticket, generation)
        ) WITHOUT ROWID;
        CREATE INDEX queue_visits_at ON queue_visits (at_ns);
        """,
        """
        CREATE TABLE queue_transactions (     -- each visit's transactions, what the summary counts
            at_ns INTEGER NOT NULL,       -- when the visit began (queue_visits.at_ns), -1 when not known
            day TEXT NOT NULL,
            ticket TEXT NOT NULL,
            generation INTEGER NOT NULL,
            n INTEGER NOT NULL,           -- 0: as issued, 1, 2... after each transfer
            hour TEXT NOT NULL,           -- the hall's hour it began ("09"), "" when not known
            line TEXT NOT NULL,
            service_window TEXT NOT NULL,
            staff TEXT NOT NULL,
            item TEXT NOT NULL,
            issued INTEGER NOT NULL,      -- 1: the first transaction of an issued ticket
            appointment INTEGER NOT NULL, -- 1: and the ticket is an appointment's (预约)
            unissued INTEGER NOT NULL,    -- 1: the first transaction of a ticket never issued
            outcome TEXT NOT NULL,
            waiting_ns INTEGER,
            handling_ns INTEGER,
            PRIMARY KEY (at_ns, day, ticket, generation, n)
        ) WITHOUT ROWID;
        CREATE INDEX queue_transactions_visit ON queue_transactions (day, ticket, generation);
        -- the visits kept before this table: their rows are worked out from their bodies (rebuild)
        CREATE TABLE queue_transactions_rebuild (pending INTEGER NOT NULL);
        CREATE TABLE queue_day_figures (      -- a whole day's summary per group, until its visits change
            day TEXT NOT NULL,
            group_by TEXT NOT NULL,       -- line, window, staff, item, hour, or '' (the day in total)
            figures BLOB NOT NULL,        -- gateway/kinds/queue/figures.py's pack
            PRIMARY KEY (day, group_by)
        ) WITHOUT ROWID;
        INSERT INTO queue_transactions_rebuild SELECT 1 WHERE EXISTS (SELECT 1 FROM queue_visits)
        """,
    )

    INSERT = (
        "INSERT OR REPLACE INTO queue_visits (day, ticket, generation, line, at_ns, ended, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )

    def __init__(
        self,
        conn: sqlite3.Connection,
        hour_of: Callable[[int], str] = _hour_utc,
        day_of: Callable[[int], str] = _day_utc,
    ) -> None:
        super().__init__(conn)
        # the hall's hour ("09") and date of a time: the projection's, in the hall's zone
        self.hour_of, self.day_of = hour_of, day_of
        self._days: dict[tuple[str, str | None], DayFigures] = {}  # (day, by) -> figures, oldest used first
        self._visits: dict[Key, Visit] = {}  # staged: their rows are made when written (the last of a batch)
        self._tickets: set[tuple[str, str]] = set()  # (day, ticket) of the staged visits

    def put(self, generation: int, visit: Visit) -> None:
        self._visits[visit.day, visit.ticket, generation] = visit
        self._tickets.add((visit.day, visit.ticket))

    def pending(self) -> bool:
        return bool(self._visits)

    def clear(self) -> None:
        super().clear()
        self._visits.clear()
        self._tickets.clear()

    def write(self, c: sqlite3.Connection) -> None:
        transactions = []
        for key, visit in self._visits.items():
            at = _at(visit)
            self._rows[key] = (*key, visit.transactions[0].line, at, int(visit.ended), dump(visit))
            transactions += transaction_rows(key, at, visit, self.hour_of)
        super().write(c)
        keys = list(self._rows)
        days = sorted({k[0] for k in keys})
        for day in days:  # its kept figures are no longer true
            for by in (None, *KEY_AT):
                self._days.pop((day, by), None)
        c.executemany("DELETE FROM queue_day_figures WHERE day = ?", [(d,) for d in days])
        c.executemany("DELETE FROM queue_transactions WHERE day = ? AND ticket = ? AND generation = ?", keys)
        c.executemany(f"INSERT INTO queue_transactions VALUES ({', '.join('?' * 16)})", transactions)

    def rebuild(self) -> int:
        """The transactions of the visits kept before queue_transactions was (once): how many visits."""
        if not self.conn.execute("SELECT 1 FROM queue_transactions_rebuild").fetchone():
            return 0
        self.flush()
        rows = self.conn.execute("SELECT day, ticket, generation, body FROM queue_visits").fetchall()
        for day, ticket, generation, body in rows:
            self.put(generation, load(day, ticket, body))
        with transaction(self.conn) as c:
            self.write(c)
            c.execute("DELETE FROM queue_transactions_rebuild")
        self.clear()
        return len(rows)

    def generations(self, day: str, ticket: str) -> list[Visit]:
        """The ticket's visits that day, oldest generation first."""
        if (day, ticket) in self._tickets:  # only then is there something staged to write first
            self.flush_for_read()
        return [
            load(day, ticket, body)
            for (body,) in self.conn.execute(
                "SELECT body FROM queue_visits WHERE day = ? AND ticket = ? ORDER BY generation", (day, ticket)
            )
        ]

    def day(self, day: str) -> list[tuple[int, Visit]]:
        """A day's visits with their generation."""
        self.flush_for_read()
        return [
            (g, load(day, ticket, body))
            for ticket, g, body in self.conn.execute(
                "SELECT ticket, generation, body FROM queue_visits WHERE day = ? ORDER BY ticket, generation", (day,)
            )
        ]

    def between(self, start_ns: int, end_ns: int) -> list[tuple[int, Visit]]:
        """The visits that began in [start, end), in the order they began."""
        self.flush_for_read()
        return [
            (g, load(day, ticket, body))
            for day, ticket, g, body in self.conn.execute(
                "SELECT day, ticket, generation, body FROM queue_visits WHERE at_ns >= ? AND at_ns < ? "
                "ORDER BY at_ns, ticket, generation",
                (start_ns, end_ns),
            )
        ]

    def served(self, start_ns: int, end_ns: int, results: Sequence[str]) -> list[tuple[str, str, int, int, str, ...]]:
        """(day, ticket, generation, ended_ns, window, staff, item, line, case_id) of the visits that
        began in [start, end) and were served (their last transaction ended with one of `results`).
        SQLite reads the fields from the bodies: decoding a month's visits in Python took seconds."""
        self.flush_for_read()
        last = ", ".join(f"json_extract(body, '$.tx[#-1].{f}')" for f in FIELDS)
        return self.conn.execute(
            f"SELECT day, ticket, generation, {last} FROM queue_visits WHERE at_ns >= ? AND at_ns < ? AND ended = 1 "
            f"AND json_extract(body, '$.tx[#-1].outcome') IN ({', '.join('?' * len(results))})",
            (start_ns, end_ns, *results),
        ).fetchall()

    def first_day(self) -> str | None:
        self.flush_for_read()
        return self.conn.execute("SELECT min(day) FROM queue_visits").fetchone()[0]

    def figures(self, start_ns: int, end_ns: int, by: str | None) -> dict[Any, dict[str, Any]]:
        """The summary's figures of the visits that began in [start, end), per group of `by` (a key
        of KEY_AT; None: one group, None, of them all), as `Figures.out` gives them. The days in
        between from their kept figures, the first and the last from their rows (the period may cut them)."""
        self.flush_for_read()
        if end_ns <= start_ns:
            return {}
        first, last = date.fromisoformat(self.day_of(start_ns)), date.fromisoformat(self.day_of(end_ns - 1))
        days = [first + n * DAY for n in range((last - first).days + 1)]
        cut = []  # the first and the last day, unless the period begins (ends) at their midnight
        if self.day_of(start_ns - 1) == first.isoformat():
            cut.append(first)
        if self.day_of(end_ns) == last.isoformat() and last not in cut:
            cut.append(last)
        new: list[tuple[str, str, bytes]] = []  # days read from their rows, kept in one transaction
        figures = [self._day(d.isoformat(), by, new) for d in days if d not in cut]
        if new:  # not kept while the file cannot be written (read from the rows again next time)
            with contextlib.suppress(sqlite3.Error), transaction(self.conn) as c:
                c.executemany("INSERT OR REPLACE INTO queue_day_figures VALUES (?, ?, ?)", new)
        if cut:
            rows = self.conn.execute(
                f"SELECT {COLUMNS} FROM queue_transactions WHERE day IN (?, ?) AND at_ns >= ? AND at_ns < ?",
                (cut[0].isoformat(), cut[-1].isoformat(), start_ns, end_ns),
            )
            figures.append(parts(rows, by))
        return combine(figures)

    def _day(self, day: str, by: str | None, new: list[tuple[str, str, bytes]]) -> DayFigures:
        """A whole day's figures by `by`: kept in memory (the newest DAYS_KEPT) and in the state
        database until the day's visits change (`write` forgets them), else read from its rows
        (and added to `new`, to be kept)."""
        key = (day, by)
        got = self._days.pop(key, None)
        if got is None:
            kept = self.conn.execute(
                "SELECT figures FROM queue_day_figures WHERE day = ? AND group_by = ?", (day, by or "")
            ).fetchone()
            if kept is not None:
                got = unpack(kept[0])
            else:
                rows = self.conn.execute(f"SELECT {COLUMNS} FROM queue_transactions WHERE day = ?", (day,))
                got = parts(rows, by)
                new.append((day, by or "", pack(got)))
        self._days[key] = got  # the most recently used last
        while len(self._days) > DAYS_KEPT:
            del self._days[next(iter(self._days))]
        return got
