"""What is to be delivered to a target (MQTT, a webhook): alert changes and applicants' notices,
each kept until the target took it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Deliveries(Repository):
    name = "deliveries"
    migrations = (
        """
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
    )

    @staticmethod
    def queue_in(c: sqlite3.Connection, rows: Sequence[tuple[str, str]], now_ns: int) -> None:
        """(target, JSON) rows, in the caller's transaction (with what they tell of: Journal)."""
        c.executemany(
            "INSERT INTO deliveries (target, payload, created_ns) VALUES (?, ?, ?)", [(t, p, now_ns) for t, p in rows]
        )

    def pending_deliveries(self, target: str, limit: int = 100) -> list[tuple[int, str]]:
        return self.conn.execute(
            "SELECT id, payload FROM deliveries WHERE target = ? ORDER BY id LIMIT ?", (target, limit)
        ).fetchall()

    def delivered(self, delivery_id: int) -> None:
        with transaction(self.conn) as c:
            c.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def delivery_failed(self, delivery_id: int, error: str) -> None:
        with transaction(self.conn) as c:
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:300], delivery_id)
            )

    def pending_count(self, target: str) -> int:
        return self.conn.execute("SELECT count(*) FROM deliveries WHERE target = ?", (target,)).fetchone()[0]

    def heads(self, prefix: str) -> list[tuple[str, int, str | None]]:
        """Of each target starting `prefix`: its oldest row's (target, attempts, last error)."""
        return self.conn.execute(
            "SELECT target, attempts, last_error FROM deliveries WHERE id IN "
            "(SELECT min(id) FROM deliveries WHERE target >= ? AND target < ? GROUP BY target)",
            (prefix, prefix + "\U0010ffff"),
        ).fetchall()
