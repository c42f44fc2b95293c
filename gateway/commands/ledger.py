"""The desk's ledger: its rows in the state database (commands under their keys, audit rows and
their amendments), over the Journal's connection, so the desk and its helpers hold no SQL.

A command is written before its first byte goes out; commands starting in the same moment share
one transaction (one fsync). Each call is one short transaction on the event loop's thread, like
the Journal's own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.store.journal import Journal, insert_audit, insert_commands
from gateway.store.sqlite import transaction

# (key, id, fingerprint, device, request, created_ns, sent_ns)
CommandRow = tuple[str, str, str, str, dict[str, Any], int, int | None]


class CommandLedger:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._beginning: list[tuple[CommandRow, asyncio.Future[None]]] = []  # commands about to be sent

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.journal.connection

    # -- commands ----------------------------------------------------------------------------------

    def command(self, key: str) -> tuple[Any, ...] | None:
        """(key, id, fingerprint, device, request, created_ns, sent_ns, status, outcome) or None."""
        return self.journal.command(key)

    def pending(self) -> list[tuple[Any, ...]]:
        """Commands without an outcome (a stopped gateway left them), oldest first."""
        return self._conn.execute("SELECT * FROM commands WHERE status IS NULL ORDER BY created_ns").fetchall()

    async def begin(self, row: CommandRow) -> None:
        """The command in the state database, marked sent; shares its commit with the commands
        that begin in the same turn of the loop."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._beginning.append((row, done))
        if len(self._beginning) == 1:
            asyncio.get_running_loop().call_soon(self._flush_beginning)
        await asyncio.shield(done)

    def _flush_beginning(self) -> None:
        batch, self._beginning = self._beginning, []
        try:
            with transaction(self._conn) as c:
                insert_commands(c, [row for row, _ in batch])
        except Exception as e:
            for _, done in batch:
                if not done.done():
                    done.set_exception(e)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    def finish(self, items: Sequence[dict[str, Any]], exported: bool) -> list[dict[str, Any]]:
        """Commands' outcomes in one transaction: each one's audit row, and its outcome under its
        key (built from the audit row's id by `item["outcome"](id)`; the command row is made if it
        was never sent). Items: key, id, fingerprint, device, request, created_ns, status, audit,
        outcome. The outcomes, in order."""
        bodies = []
        with transaction(self._conn) as c:
            for it in items:
                audit_id = insert_audit(c, {**it["audit"], "exported": int(exported)})
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

    # -- audit -------------------------------------------------------------------------------------

    def add_audit(self, audit: dict[str, Any]) -> int:
        return self.journal.add_audit(audit)

    def amend_audit(self, command_id: str, outcome: str, error: str | None, at_ns: int) -> dict[str, Any] | None:
        """A late answer to a command that timed out: a new audit row (`amends` names the timed-out
        row; that row is never changed), its latency from when the command was written. None when
        no timed-out row of that command waits for an amendment (unknown, answered, or amended)."""
        # A read first: most acks nobody waits for are repeats, and they cost no write transaction.
        row = self._conn.execute(
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
        with transaction(self._conn) as c:  # the unique index on `amends`: one amendment a row
            return {**a, "id": insert_audit(c, a)}

    def unexported_audit(self) -> list[dict[str, Any]]:
        return self.journal.unexported_audit()

    def audit_exported(self, ids: Sequence[int]) -> None:
        with transaction(self._conn) as c:
            c.executemany("UPDATE audit SET exported = 1 WHERE id = ?", [(i,) for i in ids])

    def purge(self, audit_before_ns: int, keys_before_ns: int) -> tuple[int, int]:
        """Forget audit rows (already exported) and finished commands older than the given times."""
        with transaction(self._conn) as c:
            audit = c.execute("DELETE FROM audit WHERE at_ns < ? AND exported = 1", (audit_before_ns,)).rowcount
            keys = c.execute(
                "DELETE FROM commands WHERE created_ns < ? AND status IS NOT NULL", (keys_before_ns,)
            ).rowcount
        return audit, keys
