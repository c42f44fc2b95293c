"""The desk's ledger: its rows in the state database (commands under their keys, audit rows and
their amendments), through the state database's repositories (gateway/store/repos/commands.py,
audit.py), so the desk and its helpers hold no SQL.

A command is written before its first byte goes out; commands starting in the same moment share
one transaction (one fsync). Each call is one short transaction on the event loop's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from gateway.store.journal import Journal

# (key, id, fingerprint, device, request, created_ns, sent_ns)
CommandRow = tuple[str, str, str, str, dict[str, Any], int, int | None]


class CommandLedger:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.commands = journal.repos.commands
        self.audits = journal.repos.audit
        self._beginning: list[tuple[CommandRow, asyncio.Future[None]]] = []  # commands about to be sent

    # -- commands ----------------------------------------------------------------------------------

    def command(self, key: str) -> tuple[Any, ...] | None:
        """(key, id, fingerprint, device, request, created_ns, sent_ns, status, outcome) or None."""
        return self.commands.command(key)

    def pending(self) -> list[tuple[Any, ...]]:
        """Commands without an outcome (a stopped gateway left them), oldest first."""
        return self.commands.pending_commands()

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
            self.commands.begin_commands([row for row, _ in batch])
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
        key. The outcomes, in order (gateway/store/repos/commands.py `finish_commands`)."""
        return self.commands.finish_commands(items, exported)

    # -- audit -------------------------------------------------------------------------------------

    def add_audit(self, audit: dict[str, Any]) -> int:
        return self.audits.add_audit(audit)

    def amend_audit(self, command_id: str, outcome: str, error: str | None, at_ns: int) -> dict[str, Any] | None:
        """A late answer to a command that timed out: a new audit row naming the row it amends, or
        None when no timed-out row of that command waits for one."""
        return self.audits.amend_audit(command_id, outcome, error, at_ns)

    def unexported_audit(self) -> list[dict[str, Any]]:
        return self.audits.unexported_audit()

    def audit_exported(self, ids: Sequence[int]) -> None:
        self.audits.audit_exported(ids)

    def purge(self, audit_before_ns: int, keys_before_ns: int) -> tuple[int, int]:
        """Forget audit rows (already exported) and finished commands older than the given times."""
        return self.commands.purge_commands(audit_before_ns, keys_before_ns)
