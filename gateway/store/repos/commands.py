"""Commands by Idempotency-Key: pending until the outcome is known, then the answer a repeat gets.
A command's outcome and its audit row (gateway/store/repos/audit.py) are one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store.repos.audit import Audit
from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Commands(Repository):
    name = "commands"
    migrations = (
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
        """,
    )

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], int], audit: Audit) -> None:
        super().__init__(conn, clock)
        self.audit = audit

    def command(self, key: str) -> tuple[Any, ...] | None:
        """(key, id, fingerprint, device, request, created_ns, sent_ns, status, outcome) or None."""
        return self.conn.execute("SELECT * FROM commands WHERE key = ?", (key,)).fetchone()

    def pending_commands(self) -> list[tuple[Any, ...]]:
        return self.conn.execute("SELECT * FROM commands WHERE status IS NULL ORDER BY created_ns").fetchall()

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
        self.begin_commands([(key, cmd_id, fingerprint, device, request, now_ns, sent_ns)])

    def begin_commands(self, rows: Sequence[tuple[str, str, str, str, dict[str, Any], int, int | None]]) -> None:
        """(key, id, fingerprint, device, request, created_ns, sent_ns) rows in one transaction."""
        with transaction(self.conn) as c:
            c.executemany(
                "INSERT INTO commands (key, id, fingerprint, device, request, created_ns, sent_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(k, i, f, d, json.dumps(r, ensure_ascii=False), n, s) for k, i, f, d, r, n, s in rows],
            )

    def command_sent(self, key: str, now_ns: int) -> None:
        with transaction(self.conn) as c:
            c.execute("UPDATE commands SET sent_ns = ? WHERE key = ? AND sent_ns IS NULL", (now_ns, key))

    def finish_commands(self, items: Sequence[dict[str, Any]], exported: bool) -> list[dict[str, Any]]:
        """Commands' outcomes in one transaction: each one's audit row, and its outcome under its
        key (built from the audit row's id by `item["outcome"](id)`; the command row is made if it
        was never sent). Items: key, id, fingerprint, device, request, created_ns, status, audit,
        outcome. The outcomes, in order."""
        bodies = []
        with transaction(self.conn) as c:
            for it in items:
                audit_id = self.audit.add_in(c, {**it["audit"], "exported": int(exported)})
                body = it["outcome"](audit_id)
                c.execute(
                    "INSERT INTO commands (key, id, fingerprint, device, request, created_ns, status, outcome) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET status = excluded.status, outcome = excluded.outcome",
                    (
                        it["key"],
                        it["id"],
                        it["fingerprint"],
                        it["device"],
                        json.dumps(it["request"], ensure_ascii=False),
                        it["created_ns"],
                        it["status"],
                        json.dumps(body, ensure_ascii=False),
                    ),
                )
                bodies.append(body)
        return bodies

    def purge_commands(self, audit_before_ns: int, keys_before_ns: int) -> tuple[int, int]:
        """Forget audit rows (already exported) and finished commands older than the given times."""
        with transaction(self.conn) as c:
            audit = self.audit.purge_in(c, audit_before_ns)
            keys = c.execute(
                "DELETE FROM commands WHERE created_ns < ? AND status IS NOT NULL", (keys_before_ns,)
            ).rowcount
        return audit, keys
