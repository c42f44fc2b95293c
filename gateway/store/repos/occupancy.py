"""The gateway's own occupancy history: one row per zone minute, the oldest dropped past a horizon."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Occupancy(Repository):
    name = "occupancy"
    migrations = (
        """
        CREATE TABLE occupancy_minutes (  -- the gateway's own occupancy history, one row per zone minute
            zone TEXT NOT NULL,           -- a zone id, or '*' for the whole hall
            start_ns INTEGER NOT NULL,    -- the minute's start, epoch ns
            entered INTEGER NOT NULL,
            left_ INTEGER NOT NULL,
            occupancy INTEGER NOT NULL,   -- at the end of the minute
            clamped INTEGER NOT NULL,     -- drift hidden by the floor at 0, since the last reset
            PRIMARY KEY (zone, start_ns)
        ) WITHOUT ROWID;
        CREATE INDEX occupancy_minutes_start ON occupancy_minutes (start_ns);
        """,
    )

    def save_occupancy_minutes(self, rows: Sequence[tuple[str, int, int, int, int, int]], keep_ns: int) -> None:
        """(zone, start_ns, entered, left, occupancy, clamped) rows (a minute saved again replaces
        itself); minutes older than `keep_ns` before the newest row are dropped."""
        if not rows:
            return
        with transaction(self.conn) as c:
            c.executemany("INSERT OR REPLACE INTO occupancy_minutes VALUES (?, ?, ?, ?, ?, ?)", rows)
            c.execute("DELETE FROM occupancy_minutes WHERE start_ns < ?", (max(r[1] for r in rows) - keep_ns,))

    def occupancy_minutes(self, zone: str, start_ns: int, end_ns: int) -> list[tuple[int, int, int, int, int]]:
        """(start_ns, entered, left, occupancy, clamped) of `zone`'s minutes in [start_ns, end_ns), oldest first."""
        return self.conn.execute(
            "SELECT start_ns, entered, left_, occupancy, clamped FROM occupancy_minutes "
            "WHERE zone = ? AND start_ns >= ? AND start_ns < ? ORDER BY start_ns",
            (zone, start_ns, end_ns),
        ).fetchall()
