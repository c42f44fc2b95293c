"""The projections' state (zone occupancy and its counter baselines), one JSON row per projection."""

from __future__ import annotations

import json
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class ProjectionState(Repository):
    name = "state"
    migrations = (
        """
        CREATE TABLE projection_state (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,          -- JSON
            saved_ns INTEGER NOT NULL
        );
        """,
    )

    def save_states(self, states: dict[str, dict[str, Any]]) -> None:
        if not states:
            return
        now = self.clock()
        with transaction(self.conn) as c:
            c.executemany(
                "INSERT INTO projection_state (name, state, saved_ns) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state, saved_ns = excluded.saved_ns",
                [(name, json.dumps(state, separators=(",", ":")), now) for name, state in states.items()],
            )

    def load_state(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT state FROM projection_state WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def probe(self) -> None:
        """A small write of its own, to learn that the file can be written again: a row beside the
        projections' (no projection is named with a dot first)."""
        with transaction(self.conn) as c:
            c.execute(
                "INSERT OR REPLACE INTO projection_state (name, state, saved_ns) VALUES ('.writable', '{}', ?)",
                (self.clock(),),
            )
