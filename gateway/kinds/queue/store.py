"""The queue's visits in the state database: the kind's store (`KIND.stores`), one row per visit,
staged per batch like the other kinds' records (gateway/store/staged.py says why).

A visit is one ticket of one day and generation: tickets restart daily, and a queue server that
restarts its numbering the same day issues A001 again, which is another visit (generation 1).
The row holds the whole visit (its transactions and the ids of the events applied), rewritten as
its events arrive: a resend finds its id among them and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from gateway.domain.queue import Transaction, Visit
from gateway.store.staged import StagedRows

Key = tuple[str, str, int]  # (day, ticket, generation)
FIELDS = ("ended_ns", "window", "staff", "item", "line", "case_id")  # of a served visit's last transaction


def dump(visit: Visit) -> str:
    return json.dumps(
        {"tx": [asdict(t) for t in visit.transactions], "unissued": visit.unissued, "seen": sorted(visit.seen)},
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
    )

    INSERT = (
        "INSERT OR REPLACE INTO queue_visits (day, ticket, generation, line, at_ns, ended, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )

    def put(self, generation: int, visit: Visit) -> None:
        key = (visit.day, visit.ticket, generation)
        self._rows[key] = (*key, visit.transactions[0].line, _at(visit), int(visit.ended), dump(visit))

    def generations(self, day: str, ticket: str) -> list[Visit]:
        """The ticket's visits that day, oldest generation first."""
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
