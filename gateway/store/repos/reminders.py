"""The daily reminders sent (每日差评工作提醒): one row a hall day, written in the same transaction
as the messages it queues for delivery, so a day's reminder is queued once, whatever restarts."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.repos.deliveries import Deliveries
from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Reminders(Repository):
    name = "reminders"
    migrations = (
        """
        CREATE TABLE reminders (
            kind TEXT NOT NULL,             -- bad_ratings
            day TEXT NOT NULL,              -- the hall's local date, ISO
            items INTEGER NOT NULL,         -- how many it listed (0: a day without any, when sent)
            at_ns INTEGER NOT NULL,
            PRIMARY KEY (kind, day)
        ) WITHOUT ROWID;
        """,
    )

    def sent(self, kind: str, day: str) -> bool:
        q = "SELECT 1 FROM reminders WHERE kind = ? AND day = ?"
        return self.conn.execute(q, (kind, day)).fetchone() is not None

    def send(self, kind: str, day: str, items: int, notices: Sequence[tuple[str, str]], now_ns: int) -> bool:
        """The day's reminder, once, its (target, JSON) `notices` queued with it: False when the
        day had it already (nothing queued)."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "INSERT INTO reminders (kind, day, items, at_ns) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (kind, day, items, now_ns),
            )
            if not cur.rowcount:
                return False
            Deliveries.queue_in(c, notices, now_ns)
        return True
