"""Messages that could not be decoded, kept for a person to look at (bounded in rows and bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

QUARANTINE_ROWS = 5000
QUARANTINE_PAYLOAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Quarantined:
    at_ns: int
    device: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes
    size: int = -1  # full size when payload is a prefix; -1: len(payload)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    at_ns: int
    device: str | None
    topic: str
    reason: str
    detail: str
    size: int
    payload: bytes


class Quarantine(Repository):
    name = "quarantine"
    migrations = (
        """
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            at_ns INTEGER NOT NULL,
            device TEXT,                  -- NULL: a topic of no configured device
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,         -- a short code: not_json, too_deep, bad_type, ...
            detail TEXT NOT NULL,
            size INTEGER NOT NULL,        -- the payload's full size in bytes
            payload BLOB NOT NULL         -- its first QUARANTINE_PAYLOAD_BYTES bytes
        );
        """,
    )

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep undecodable messages (bounded: the newest QUARANTINE_ROWS, payloads cut short)."""
        if not items:
            return
        rows = [
            (
                q.at_ns,
                q.device,
                q.topic,
                q.reason,
                q.detail[:500],
                q.size if q.size >= 0 else len(q.payload),
                bytes(q.payload[:QUARANTINE_PAYLOAD_BYTES]),
            )
            for q in items
        ]
        with transaction(self.conn) as c:
            c.executemany(
                "INSERT INTO quarantine (at_ns, device, topic, reason, detail, size, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            c.execute("DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?", (QUARANTINE_ROWS,))

    def quarantined(
        self, *, device: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[QuarantineRow]:
        """Newest first; page with `before_id`."""
        sql = "SELECT id, at_ns, device, topic, reason, detail, size, payload FROM quarantine WHERE 1=1"
        args: list[Any] = []
        if device is not None:
            sql += " AND device = ?"
            args.append(device)
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [QuarantineRow(*r) for r in self.conn.execute(sql, args)]
