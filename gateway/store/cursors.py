"""Each sink's place in the outbox: a watermark per class, so one file feeds several sinks.

Batches leave a class oldest first and a sink acknowledges a whole batch, so what a sink has
answered for in a class is exactly its records up to an id: one integer per sink and class,
kept in the outbox's file and moved in the transaction that acknowledges. A record is deleted
once every configured sink is past it (the lowest watermark), so the local InfluxDB and the
district store each keep their own cursor while sharing one budget: a sink held back keeps its
records in the outbox until it catches up or the budget evicts them, and each sink's drops are
counted for that sink (a record the local sink already has, evicted for a district still behind,
is the district's loss only). A sink no longer configured holds nothing back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.domain.canonical import Priority

LOCAL = "local"  # the hall's own InfluxDB: the cursor every outbox has


@dataclass(frozen=True, slots=True)
class Batch:
    ids: list[int]
    lines: list[str]
    bytes: int
    prios: tuple[int, ...] = ()  # each record's class: where the sink's cursor moves to on ack

    def __len__(self) -> int:
        return len(self.ids)


class _Outbox(Protocol):
    """The outbox as a cursor sees it (gateway/store/outbox.py)."""

    cursors: Cursors

    def add_listener(self, callback: Callable[[], None]) -> None: ...
    def peek(self, limit: int, cursor: str = LOCAL) -> Batch: ...
    def ack(self, batch: Batch, *, rejected: int = 0, cursor: str = LOCAL) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT NOT NULL,
    prio INTEGER NOT NULL,
    upto INTEGER NOT NULL,   -- the highest record id of this class the sink has answered for
    PRIMARY KEY (name, prio)
) WITHOUT ROWID;
"""


class Cursors:
    """Watermarks and, per sink and class, how many stored records the sink has not had yet."""

    def __init__(self, conn: sqlite3.Connection, names: Sequence[str]) -> None:
        conn.executescript(_SCHEMA)
        self.names = tuple(dict.fromkeys(names))
        stored = {(n, Priority(p)): u for n, p, u in conn.execute("SELECT name, prio, upto FROM cursors")}
        self.upto = {n: {p: stored.get((n, p), 0) for p in Priority} for n in self.names}
        self.pending = {n: {p: _count(conn, p, self.upto[n][p], None) for p in Priority} for n in self.names}

    def floor(self, prio: Priority) -> int:
        """Every configured sink has answered for this class's records up to here."""
        return min(self.upto[n][prio] for n in self.names)

    def added(self, prio: Priority, n: int) -> None:
        for name in self.names:
            self.pending[name][prio] += n

    def evicting(self, conn: sqlite3.Connection, prio: Priority, upto: int) -> dict[str, int]:
        """Before a class's records up to `upto` are evicted: how many each sink loses (had not had)."""
        lost = {n: _count(conn, prio, self.upto[n][prio], upto) for n in self.names}
        return lost

    def evicted(self, prio: Priority, lost: dict[str, int]) -> None:
        for name, n in lost.items():
            self.pending[name][prio] -= n

    def advance(self, conn: sqlite3.Connection, name: str, prio: Priority, upto: int) -> int:
        """Move a sink past `upto` in a class (in the caller's transaction); the records it passed
        that are still stored (what it was really delivered)."""
        old = self.upto[name][prio]
        if upto <= old:
            return 0
        n = _count(conn, prio, old, upto)
        conn.execute(
            "INSERT INTO cursors (name, prio, upto) VALUES (?, ?, ?) "
            "ON CONFLICT (name, prio) DO UPDATE SET upto = excluded.upto",
            (name, int(prio), upto),
        )
        return n

    def advanced(self, name: str, prio: Priority, upto: int, n: int) -> None:
        """After the transaction committed."""
        self.upto[name][prio] = max(self.upto[name][prio], upto)
        self.pending[name][prio] -= n


def _count(conn: sqlite3.Connection, prio: Priority, after: int, upto: int | None) -> int:
    if upto is None:
        sql, args = "SELECT count(*) FROM records WHERE prio = ? AND id > ?", (int(prio), after)
    else:
        sql, args = "SELECT count(*) FROM records WHERE prio = ? AND id > ? AND id <= ?", (int(prio), after, upto)
    return conn.execute(sql, args).fetchone()[0]


class OutboxCursor:
    """What a drain needs of the outbox, for one sink: its depth, its batches, its acks."""

    def __init__(self, outbox: _Outbox, name: str) -> None:
        self.outbox = outbox
        self.name = name

    @property
    def depth_records(self) -> int:
        return sum(self.outbox.cursors.pending[self.name].values())

    def add_listener(self, callback: Callable[[], None]) -> None:
        self.outbox.add_listener(callback)

    def peek(self, limit: int) -> Batch:
        return self.outbox.peek(limit, self.name)

    def ack(self, batch: Batch, *, rejected: int = 0) -> None:
        self.outbox.ack(batch, rejected=rejected, cursor=self.name)


def sink_drops(names: Sequence[str], lost: dict[Priority, dict[str, int]], refused: int) -> dict[str, int]:
    """Each sink's share of one append's drops: what was evicted before it had it, and every refusal."""
    return {f"dropped_to_{n}": refused + sum(by.get(n, 0) for by in lost.values()) for n in names}
