"""The audit trail of commands (who opened which door, why, and how it went), exported to the
outbox; a late answer to a timed-out command is a row of its own that names the row it amends."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Audit(Repository):
    name = "audit"
    migrations = (
        """
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
        """,
        """
        -- a late answer (outcome opened_late, failed_late) is a row of its own naming the row it amends
        ALTER TABLE audit ADD COLUMN amends INTEGER;
        CREATE UNIQUE INDEX audit_amends ON audit (amends) WHERE amends IS NOT NULL;
        CREATE INDEX audit_command ON audit (command_id) WHERE command_id IS NOT NULL;
        """,
    )

    def add_audit(self, audit: dict[str, Any]) -> int:
        with transaction(self.conn) as c:
            return self.add_in(c, audit)

    @staticmethod
    def add_in(c: sqlite3.Connection, a: dict[str, Any]) -> int:
        """One audit row in the caller's transaction; its id."""
        cur = c.execute(
            "INSERT INTO audit (at_ns, device, part, action, actor, role, reason, outcome, error, latency_ms, "
            "command_id, amends, exported) VALUES (:at_ns, :device, :part, :action, :actor, :role, :reason, "
            ":outcome, :error, :latency_ms, :command_id, :amends, :exported)",
            {"exported": 0, "amends": None, **a},
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def amend_audit(self, command_id: str, outcome: str, error: str | None, at_ns: int) -> dict[str, Any] | None:
        """A late answer to a command that timed out: a new audit row (`amends` names the timed-out
        row; that row is never changed), its latency from when the command was written. None when
        no timed-out row of that command waits for an amendment (unknown, answered, or amended)."""
        # A read first: most acks nobody waits for are repeats, and they cost no write transaction.
        # The command's row (gateway/store/repos/commands.py) gives when it was written, if kept.
        row = self.conn.execute(
            "SELECT a.id, a.device, a.part, a.action, a.actor, a.role, a.reason, k.created_ns FROM audit a "
            "LEFT JOIN commands k ON k.id = a.command_id WHERE a.command_id = ? AND a.outcome = 'timeout' "
            "AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.amends = a.id) ORDER BY a.id DESC LIMIT 1",
            (command_id,),
        ).fetchone()
        if row is None:
            return None
        amends, device, part, action, actor, role, reason, created_ns = row
        latency = None if created_ns is None else round((at_ns - created_ns) / 1e6, 2)
        a = {
            "at_ns": at_ns,
            "device": device,
            "part": part,
            "action": action,
            "actor": actor,
            "role": role,
            "reason": reason,
            "outcome": outcome,
            "error": error,
            "latency_ms": latency,
            "command_id": command_id,
            "amends": amends,
        }
        with transaction(self.conn) as c:  # the unique index on `amends`: one amendment a row
            return {**a, "id": self.add_in(c, a)}

    def audit_exported(self, ids: Sequence[int]) -> None:
        with transaction(self.conn) as c:
            c.executemany("UPDATE audit SET exported = 1 WHERE id = ?", [(i,) for i in ids])

    def unexported_audit(self, limit: int = 500) -> list[dict[str, Any]]:
        return self._rows("WHERE exported = 0 ORDER BY id LIMIT ?", [limit])

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
        return self._rows(f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit])

    def _rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        # `amended_by`: the row a late answer added (the timed-out row itself stays as it was written)
        cur = self.conn.execute(
            "SELECT id, at_ns, device, part, action, actor, role, reason, outcome, error, latency_ms, command_id, "
            "amends, (SELECT b.id FROM audit b WHERE b.amends = audit.id) AS amended_by "
            f"FROM audit {tail}",
            args,
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    @staticmethod
    def purge_in(c: sqlite3.Connection, before_ns: int) -> int:
        """Forget exported rows older than `before_ns`, in the caller's transaction; how many."""
        return c.execute("DELETE FROM audit WHERE at_ns < ? AND exported = 1", (before_ns,)).rowcount
