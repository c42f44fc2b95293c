"""The operations reports: one row a report asked for (its kind, period, inputs' time range, who
asked and when, its status), the files under the state directory (gateway/features/reports)."""

from __future__ import annotations

from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

COLUMNS = "id, kind, period, start_ns, end_ns, created_ns, by, status, reason, finished_ns"
STATUSES = ("rendering", "done", "failed")


class Reports(Repository):
    name = "reports"
    migrations = (
        """
        CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,             -- day, week, month, quarter
            period TEXT NOT NULL,           -- 2026-12-07, 2026-W49, 2026-12, 2026-Q4
            start_ns INTEGER NOT NULL,      -- the inputs' time range [start, end), hall local midnights
            end_ns INTEGER NOT NULL,
            created_ns INTEGER NOT NULL,
            by TEXT NOT NULL,               -- who asked: an account, a token's name, "cli"
            status TEXT NOT NULL,           -- rendering, done, failed
            reason TEXT,                    -- why it failed
            finished_ns INTEGER
        );
        CREATE INDEX reports_created ON reports (created_ns);
        -- one report of a period renders at a time: a second request while it renders gets its id
        CREATE UNIQUE INDEX reports_rendering ON reports (kind, period) WHERE status = 'rendering';
        """,
    )

    def start(self, kind: str, period: str, start_ns: int, end_ns: int, by: str) -> tuple[int, bool]:
        """A new report rendering, or the one of this period already rendering: (id, new)."""
        with transaction(self.conn) as c:
            row = c.execute(
                "SELECT id FROM reports WHERE kind = ? AND period = ? AND status = 'rendering'", (kind, period)
            ).fetchone()
            if row is not None:
                return row[0], False
            cur = c.execute(
                "INSERT INTO reports (kind, period, start_ns, end_ns, created_ns, by, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'rendering')",
                (kind, period, start_ns, end_ns, self.clock(), by),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid, True

    def finish(self, rid: int, reason: str | None = None) -> None:
        """Done, or failed with the reason (never left rendering)."""
        with transaction(self.conn) as c:
            c.execute(
                "UPDATE reports SET status = ?, reason = ?, finished_ns = ? WHERE id = ?",
                ("failed" if reason is not None else "done", reason, self.clock(), rid),
            )

    def get(self, rid: int) -> dict[str, Any] | None:
        rows = self._rows("WHERE id = ?", [rid])
        return rows[0] if rows else None

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        return self._rows("ORDER BY id DESC LIMIT ?", [limit])

    def abandon_rendering(self, reason: str) -> int:
        """At start: reports left rendering by a gateway that stopped are failed, with the reason."""
        with transaction(self.conn) as c:
            return c.execute(
                "UPDATE reports SET status = 'failed', reason = ?, finished_ns = ? WHERE status = 'rendering'",
                (reason, self.clock()),
            ).rowcount

    def _rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        names = [n.strip() for n in COLUMNS.split(",")]
        return [
            dict(zip(names, r, strict=True)) for r in self.conn.execute(f"SELECT {COLUMNS} FROM reports {tail}", args)
        ]
