"""Items waiting in a locker for their applicant: the code only as a hash under the gateway's key."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class PickupItems(Repository):
    name = "pickup"
    migrations = (
        """
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
        """,
        """
        ALTER TABLE pickup_items ADD COLUMN reminded_ns INTEGER;  -- the applicant was reminded of the expiry
        """,
    )

    def add_pickup_item(self, row: dict[str, Any]) -> int:
        """Raises sqlite3.IntegrityError when the code hash or the door is already active."""
        with transaction(self.conn) as c:
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
        cur = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def pickup_items_between(self, start_ns: int, end_ns: int) -> list[tuple[str, int, int, int | None, str]]:
        """(locker, deposited_ns, expires_ns, closed_ns, state) of the items deposited before `end`
        that were still there at `start` or after (not collected before it): what a period's
        deposits, pickups and overdue items are counted from."""
        return self.conn.execute(
            "SELECT locker, deposited_ns, expires_ns, closed_ns, state FROM pickup_items "
            "WHERE deposited_ns < ? AND (closed_ns IS NULL OR closed_ns >= ?) ORDER BY id",
            (end_ns, start_ns),
        ).fetchall()

    def set_pickup_state(self, item_id: int, state: str, at_ns: int) -> None:
        column = {"opened": "opened_ns", "collected": "closed_ns", "waiting": "opened_ns"}[state]
        value = None if state == "waiting" else at_ns  # back to waiting: it was not taken
        with transaction(self.conn) as c:
            c.execute(f"UPDATE pickup_items SET state = ?, {column} = ? WHERE id = ?", (state, value, item_id))

    @staticmethod
    def reminded_in(c: sqlite3.Connection, item_id: int, at_ns: int) -> None:
        """The applicant was reminded of the expiry, in the caller's transaction (with the notice)."""
        c.execute("UPDATE pickup_items SET reminded_ns = ? WHERE id = ?", (at_ns, item_id))
