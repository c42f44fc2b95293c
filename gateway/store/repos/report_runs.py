"""The scheduled operations reports (gateway/features/reports/schedule.py): since when the schedule
runs, each period's run (its attempts, its report, whether its deliveries were queued) and each
report's deliveries (their rows in the durable delivery queue while they wait, when they went).

A run is keyed by its kind and period: made once, whatever the number of checks or restarts. Its
deliveries are queued in the same transaction that marks it queued: once, even across a SIGKILL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

RUN = "kind, period, due_ns, state, attempts, report_id, next_ns, note, queued"
STATES = ("making", "done", "failed", "skipped")


class ReportRuns(Repository):
    name = "report_runs"
    migrations = (
        """
        CREATE TABLE report_schedule (        -- one row: since when reports are made on their own
            id INTEGER PRIMARY KEY CHECK (id = 1),
            since_ns INTEGER NOT NULL          -- a run due before it is not made (a new gateway makes no history)
        );
        CREATE TABLE report_runs (
            kind TEXT NOT NULL,                -- week, month, quarter
            period TEXT NOT NULL,              -- 2026-W48
            due_ns INTEGER NOT NULL,
            state TEXT NOT NULL,               -- making, done, failed, skipped
            attempts INTEGER NOT NULL DEFAULT 0,
            report_id INTEGER,                 -- the last attempt's report (reports.id)
            next_ns INTEGER,                   -- failed: when it is tried again (NULL: no more)
            note TEXT,                         -- skipped: why
            queued INTEGER NOT NULL DEFAULT 0, -- its deliveries are queued
            PRIMARY KEY (kind, period)
        );
        CREATE TABLE report_deliveries (
            report_id INTEGER NOT NULL,
            channel TEXT NOT NULL,             -- robot, email
            delivery_id INTEGER NOT NULL UNIQUE, -- its row of `deliveries` while it waits
            queued_ns INTEGER NOT NULL,
            sent_ns INTEGER,                   -- taken by the robot or the mail server
            PRIMARY KEY (report_id, channel)
        );
        """,
    )

    def since(self, now_ns: int) -> int:
        with transaction(self.conn) as c:
            c.execute("INSERT OR IGNORE INTO report_schedule (id, since_ns) VALUES (1, ?)", (now_ns,))
            return c.execute("SELECT since_ns FROM report_schedule").fetchone()[0]

    def get(self, kind: str, period: str) -> dict[str, Any] | None:
        rows = self._runs("WHERE kind = ? AND period = ?", [kind, period])
        return rows[0] if rows else None

    def last(self) -> dict[str, dict[str, Any]]:
        """Each kind's latest run."""
        rows = self._runs("WHERE due_ns = (SELECT max(due_ns) FROM report_runs r WHERE r.kind = report_runs.kind)", [])
        return {r["kind"]: r for r in rows}

    def begin(self, kind: str, period: str, due_ns: int) -> int:
        """An attempt at the run: its number."""
        with transaction(self.conn) as c:
            c.execute(
                "INSERT INTO report_runs (kind, period, due_ns, state, attempts) VALUES (?, ?, ?, 'making', 1) "
                "ON CONFLICT (kind, period) DO UPDATE SET state = 'making', attempts = attempts + 1, next_ns = NULL",
                (kind, period, due_ns),
            )
            return c.execute(
                "SELECT attempts FROM report_runs WHERE kind = ? AND period = ?", (kind, period)
            ).fetchone()[0]

    def ended(
        self, kind: str, period: str, state: str, *, report_id: int | None = None, next_ns: int | None = None,
        note: str | None = None,
    ) -> None:  # fmt: skip
        assert state in STATES
        with transaction(self.conn) as c:
            c.execute(
                "UPDATE report_runs SET state = ?, report_id = coalesce(?, report_id), next_ns = ?, note = ? "
                "WHERE kind = ? AND period = ?",
                (state, report_id, next_ns, note, kind, period),
            )

    def hand_over(
        self, kind: str, period: str, report_id: int, rows: Sequence[tuple[str, str, str]], now_ns: int
    ) -> bool:
        """(channel, target, JSON) rows into the delivery queue, once per run: False if they were already."""
        with transaction(self.conn) as c:
            done = c.execute(
                "UPDATE report_runs SET queued = 1 WHERE kind = ? AND period = ? AND queued = 0", (kind, period)
            )
            if done.rowcount == 0:
                return False
            for channel, target, payload in rows:
                cur = c.execute(
                    "INSERT INTO deliveries (target, payload, created_ns) VALUES (?, ?, ?)", (target, payload, now_ns)
                )
                c.execute(
                    "INSERT INTO report_deliveries (report_id, channel, delivery_id, queued_ns) VALUES (?, ?, ?, ?)",
                    (report_id, channel, cur.lastrowid, now_ns),
                )
            return True

    def sent(self, delivery_id: int, now_ns: int) -> None:
        with transaction(self.conn) as c:
            c.execute("UPDATE report_deliveries SET sent_ns = ? WHERE delivery_id = ?", (now_ns, delivery_id))

    def was_sent(self, delivery_id: int) -> bool:
        q = "SELECT sent_ns FROM report_deliveries WHERE delivery_id = ?"
        row = self.conn.execute(q, (delivery_id,)).fetchone()
        return row is not None and row[0] is not None

    def deliveries(self, report_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """Each report's deliveries: sent (when), or waiting (attempts, the last error)."""
        ids = list(report_ids)
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if not ids:
            return out
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT r.report_id, r.channel, r.queued_ns, r.sent_ns, d.id, d.attempts, d.last_error "
            "FROM report_deliveries r LEFT JOIN deliveries d ON d.id = r.delivery_id "
            f"WHERE r.report_id IN ({marks}) ORDER BY r.report_id, r.channel",
            ids,
        )
        for rid, channel, queued, sent, waiting, attempts, error in rows:
            state = "sent" if sent is not None or waiting is None else "retrying" if attempts else "queued"
            out[rid].append(
                {"channel": channel, "state": state, "attempts": attempts or 0, "error": error,
                 "queued_ns": queued, "sent_ns": sent}
            )  # fmt: skip
        return out

    def _runs(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        names = [n.strip() for n in RUN.split(",")]
        rows = self.conn.execute(f"SELECT {RUN} FROM report_runs {tail}", args)
        return [dict(zip(names, r, strict=True)) for r in rows]
