"""Health transitions per device: the newest HEALTH_HISTORY_PER_DEVICE of each survive a restart."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

HEALTH_HISTORY_PER_DEVICE = 200


class HealthHistory(Repository):
    name = "health"
    migrations = (
        """
        CREATE TABLE health_history (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            at_ns INTEGER NOT NULL,
            health TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX health_history_device ON health_history (device, id);
        """,
    )

    def add_transitions(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        """(device, at_ns, health, detail) rows; each device keeps its newest HEALTH_HISTORY_PER_DEVICE."""
        if not rows:
            return
        with transaction(self.conn) as c:
            c.executemany("INSERT INTO health_history (device, at_ns, health, detail) VALUES (?, ?, ?, ?)", rows)
            for device in {r[0] for r in rows}:
                c.execute(
                    "DELETE FROM health_history WHERE device = ? AND id <= (SELECT id FROM health_history "
                    "WHERE device = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (device, device, HEALTH_HISTORY_PER_DEVICE),
                )

    def transitions(self, device: str, limit: int = HEALTH_HISTORY_PER_DEVICE) -> list[tuple[int, str, str]]:
        """Newest last: (at_ns, health, detail)."""
        rows = self.conn.execute(
            "SELECT at_ns, health, detail FROM health_history WHERE device = ? ORDER BY id DESC LIMIT ?",
            (device, limit),
        ).fetchall()
        return rows[::-1]
