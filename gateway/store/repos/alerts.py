"""Alert rows as the engine last saw them (gateway/alerts/): one row per alert, its whole life."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.store.repository import Repository


class Alerts(Repository):
    name = "alerts"
    migrations = (
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            severity TEXT NOT NULL,
            summary TEXT NOT NULL,
            device TEXT,
            state TEXT NOT NULL,          -- open, acknowledged, resolved, closed
            opened_ns INTEGER NOT NULL,
            updated_ns INTEGER NOT NULL,
            manual INTEGER NOT NULL,
            occurrences INTEGER NOT NULL,
            clear_since_ns INTEGER,
            acked_by TEXT,
            acked_ns INTEGER,
            note TEXT,
            ended_ns INTEGER
        );
        CREATE INDEX alerts_state ON alerts (state, id);
        """,
        """
        -- an open alert only a person closes, looked up when the book keeps it no longer in memory
        CREATE INDEX alerts_rule_key ON alerts (rule, key) WHERE state IN ('open', 'acknowledged');
        """,
        """
        -- the words of the summary, said again when read in the reader's language (issue 22): the
        -- English, the catalogue's template and its specifics (JSON), NULL in the rows before them
        ALTER TABLE alerts ADD COLUMN english TEXT;
        ALTER TABLE alerts ADD COLUMN template TEXT;
        ALTER TABLE alerts ADD COLUMN params TEXT;
        """,
    )

    @staticmethod
    def save_in(c: sqlite3.Connection, alerts: Sequence[Any]) -> None:
        """Alert rows as they are now, in the caller's transaction (with their deliveries: Journal)."""
        c.executemany(
            "INSERT OR REPLACE INTO alerts (id, rule, key, severity, summary, device, state, opened_ns, "
            "updated_ns, manual, occurrences, clear_since_ns, acked_by, acked_ns, note, ended_ns, english, template, "
            "params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.rule,
                    a.key,
                    a.severity,
                    a.summary,
                    a.device,
                    a.state,
                    a.opened_ns,
                    a.updated_ns,
                    int(a.manual),
                    a.occurrences,
                    a.clear_since_ns,
                    a.acked_by,
                    a.acked_ns,
                    a.note,
                    a.ended_ns,
                    a.english,
                    a.template,
                    None if a.params is None else json.dumps(a.params, ensure_ascii=False, default=str),
                )
                for a in alerts
            ],
        )

    def alert_rows(self, *, active: bool | None = None, limit: int = 500) -> list[tuple[Any, ...]]:
        """Alert rows, newest first (columns in table order)."""
        sql = "SELECT * FROM alerts"
        if active is not None:
            sql += " WHERE state IN ('open', 'acknowledged')" if active else " WHERE state IN ('resolved', 'closed')"
        return self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def alert_row(self, alert_id: int) -> tuple[Any, ...] | None:
        return self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()

    def active_alert_row(self, rule: str, key: str) -> tuple[Any, ...] | None:
        return self.conn.execute(
            "SELECT * FROM alerts WHERE rule = ? AND key = ? AND state IN ('open', 'acknowledged')", (rule, key)
        ).fetchone()

    def active_alerts_by_severity(self) -> dict[str, int]:
        return dict(
            self.conn.execute(
                "SELECT severity, count(*) FROM alerts WHERE state IN ('open', 'acknowledged') GROUP BY severity"
            ).fetchall()
        )

    def max_alert_id(self) -> int:
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()[0]

    def alerts_opened(
        self, start_ns: int, end_ns: int, rules: Sequence[str]
    ) -> list[tuple[str, str | None, int, int | None]]:
        """(rule, device, opened_ns, ended_ns) of the alerts of these rules opened in [start, end)."""
        return self.conn.execute(
            f"SELECT rule, device, opened_ns, ended_ns FROM alerts WHERE opened_ns >= ? AND opened_ns < ? "
            f"AND rule IN ({', '.join('?' * len(rules))}) ORDER BY opened_ns",
            (start_ns, end_ns, *rules),
        ).fetchall()
