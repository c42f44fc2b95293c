"""The gateway's secret keys (the pickup codes' HMAC key), made once and kept in this file."""

from __future__ import annotations

from collections.abc import Callable

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


class Secrets(Repository):
    name = "secrets"
    migrations = ("CREATE TABLE gateway_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);",)

    def secret_key(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The gateway's secret `name`, made by `make()` the first time (kept in this database)."""
        row = self.conn.execute("SELECT value FROM gateway_secrets WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return bytes(row[0])
        value = bytes(make())
        with transaction(self.conn) as c:
            c.execute("INSERT OR IGNORE INTO gateway_secrets (name, value) VALUES (?, ?)", (name, value))
        return bytes(self.conn.execute("SELECT value FROM gateway_secrets WHERE name = ?", (name,)).fetchone()[0])
