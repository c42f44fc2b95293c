"""Who read the named discipline ledger: each read of violations with names (the ledger, a
person's own records, a record, a photo, the strikes, the counts by person), naming the reader,
what was read (the filter, or the record ids) and when. Written before the answer leaves, so a
read the gateway could not audit is not answered (the caller gets the write's error)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class LedgerReads(Repository):
    name = "ledger_reads"
    migrations = (
        """
        CREATE TABLE ledger_reads (
            id INTEGER PRIMARY KEY,
            at_ns INTEGER NOT NULL,
            actor TEXT NOT NULL,            -- the reader, as the audit names them
            role TEXT NOT NULL,
            what TEXT NOT NULL,             -- ledger, own, record, photo, strikes, summary, notices, export
            filter TEXT NOT NULL,           -- JSON: the query's filter
            ids TEXT NOT NULL               -- JSON: the violations (or notices) the answer named
        );
        CREATE INDEX ledger_reads_at ON ledger_reads (at_ns);
        """,
    )

    def add(self, actor: str, role: str, what: str, filter: Mapping[str, Any], ids: Sequence[int], now_ns: int) -> int:
        with transaction(self.conn) as c:
            cur = c.execute(
                "INSERT INTO ledger_reads (at_ns, actor, role, what, filter, ids) VALUES (?, ?, ?, ?, ?, ?)",
                (now_ns, actor, role, what, json.dumps(dict(filter), ensure_ascii=False), json.dumps(list(ids))),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def find(
        self, *, actor: str | None = None, start_ns: int | None = None, end_ns: int | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = ["1=1"], []
        for sql, value in (("actor = ?", actor), ("at_ns >= ?", start_ns), ("at_ns < ?", end_ns)):
            if value is not None:
                where.append(sql)
                args.append(value)
        cur = self.conn.execute(
            f"SELECT id, at_ns, actor, role, what, filter, ids FROM ledger_reads WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT ?",
            [*args, limit],
        )
        return [
            {"id": i, "at_ns": at, "actor": a, "role": r, "what": w, "filter": json.loads(f), "ids": json.loads(ids)}
            for i, at, a, r, w, f, ids in cur
        ]

    def purge(self, before_ns: int, limit: int) -> int:
        """Forget up to `limit` reads older than `before_ns` (their own retention); how many."""
        with transaction(self.conn) as c:
            q = "DELETE FROM ledger_reads WHERE id IN (SELECT id FROM ledger_reads WHERE at_ns < ? ORDER BY id LIMIT ?)"
            return c.execute(q, (before_ns, limit)).rowcount
