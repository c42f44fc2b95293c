"""The staff registry's changes made through the API (`POST /api/v1/staff`): one row per person,
an overlay over the configuration's `staff:` (a person added, changed, or retired with
`active = 0`), written in one transaction with its audit row (gateway/staff_registry.py reads it)."""

from __future__ import annotations

import json
from typing import Any

from gateway.store.repos.audit import Audit
from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class StaffOverlay(Repository):
    name = "staff"
    version = 0  # moved on each change: the registry's readers (staff_registry.Roster) read again
    migrations = (
        """
        CREATE TABLE staff_overlay (
            id TEXT PRIMARY KEY,          -- the staff id as the devices send it
            entry TEXT NOT NULL,          -- the person as the file's staff[] writes them (JSON)
            active INTEGER NOT NULL,      -- 0: retired (no longer in the registry)
            actor TEXT NOT NULL,
            at_ns INTEGER NOT NULL
        );
        """,
    )

    def put(self, entry: dict[str, Any], active: bool, audit: dict[str, Any]) -> None:
        """The person as they are now, and the audit row naming who changed them, in one transaction."""
        with transaction(self.conn) as c:
            c.execute(
                "INSERT INTO staff_overlay (id, entry, active, actor, at_ns) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET entry = excluded.entry, active = excluded.active, "
                "actor = excluded.actor, at_ns = excluded.at_ns",
                (entry["id"], json.dumps(entry, ensure_ascii=False), int(active), audit["actor"], audit["at_ns"]),
            )
            Audit.add_in(c, audit)
        self.version += 1

    def entries(self) -> list[tuple[dict[str, Any], bool]]:
        """Every person the API changed, in the order first changed: (entry, active)."""
        rows = self.conn.execute("SELECT entry, active FROM staff_overlay ORDER BY rowid").fetchall()
        return [(json.loads(e), bool(a)) for e, a in rows]
