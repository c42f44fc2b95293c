"""What people add to the discipline ledger: a violation's photo (its digest and type; the file
is under the state directory) and the 整改通知单 issued from a violation, with who signed it when.

Issuing and signing a notice write the violation's step (`violation_steps`, the Violations
repository's table) in the same transaction, so a violation's trail shows its notice."""

from __future__ import annotations

from typing import Any

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

NOTICE_COLUMNS = (
    "id, violation, staff, text, deadline_ns, issued_by, issued_role, issued_ns, acked_by, acked_ns, ack_note"
)


class Patrol(Repository):
    name = "patrol"
    migrations = (
        """
        CREATE TABLE violation_photos (
            violation INTEGER PRIMARY KEY REFERENCES violations (id),  -- one photo a violation
            digest TEXT NOT NULL,           -- SHA-256 of the stored file (EXIF removed), its name on disk
            type TEXT NOT NULL,             -- jpeg, png
            bytes INTEGER NOT NULL,
            actor TEXT NOT NULL,
            at_ns INTEGER NOT NULL
        );
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            violation INTEGER NOT NULL UNIQUE REFERENCES violations (id),  -- one notice a violation
            staff TEXT NOT NULL,            -- whom it is for: the only one who signs it
            text TEXT NOT NULL,             -- what to put right
            deadline_ns INTEGER NOT NULL,
            issued_by TEXT NOT NULL,
            issued_role TEXT NOT NULL,
            issued_ns INTEGER NOT NULL,
            acked_by TEXT,
            acked_ns INTEGER,
            ack_note TEXT
        );
        CREATE INDEX notices_unsigned ON notices (deadline_ns) WHERE acked_ns IS NULL;
        CREATE INDEX notices_staff ON notices (staff, id);
        """,
    )

    # -- photos ------------------------------------------------------------------------------------

    def photo(self, vid: int) -> dict[str, Any] | None:
        q = "SELECT digest, type, bytes, actor, at_ns FROM violation_photos WHERE violation = ?"
        row = self.conn.execute(q, (vid,)).fetchone()
        return dict(zip(("digest", "type", "bytes", "actor", "at_ns"), row, strict=True)) if row else None

    def add_photo(self, vid: int, digest: str, kind: str, size: int, who: tuple[str, str], now_ns: int) -> bool:
        """The violation's photo, once: False when it has one already."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "INSERT INTO violation_photos (violation, digest, type, bytes, actor, at_ns) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (violation) DO NOTHING",
                (vid, digest, kind, size, who[0], now_ns),
            )
            if not cur.rowcount:
                return False
            _step(c, vid, "photo", who, f"sha256:{digest}", now_ns)
        return True

    # -- 整改通知单 ---------------------------------------------------------------------------------

    def issue(self, vid: int, staff: str, text: str, deadline_ns: int, who: tuple[str, str], now_ns: int) -> int | None:
        """A notice from violation `vid`: its id, or None when the violation has one already."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "INSERT INTO notices (violation, staff, text, deadline_ns, issued_by, issued_role, issued_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (violation) DO NOTHING",
                (vid, staff, text, deadline_ns, who[0], who[1], now_ns),
            )
            if not cur.rowcount:
                return None
            _step(c, vid, "notice", who, text, now_ns)
            return cur.lastrowid

    def acknowledge(self, nid: int, vid: int, who: tuple[str, str], note: str, now_ns: int) -> bool:
        """Signed by `who`; False when it was signed already."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "UPDATE notices SET acked_by = ?, acked_ns = ?, ack_note = ? WHERE id = ? AND acked_ns IS NULL",
                (who[0], now_ns, note, nid),
            )
            if not cur.rowcount:
                return False
            _step(c, vid, "acknowledge", who, note, now_ns)
        return True

    def notice(self, nid: int) -> dict[str, Any] | None:
        rows = self._notices("WHERE id = ?", [nid])
        return rows[0] if rows else None

    def notice_of(self, vid: int) -> dict[str, Any] | None:
        rows = self._notices("WHERE violation = ?", [vid])
        return rows[0] if rows else None

    def notices(self, staff: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Newest first; one person's when `staff` is given."""
        if staff is None:
            return self._notices("ORDER BY id DESC LIMIT ?", [limit])
        return self._notices("WHERE staff = ? ORDER BY id DESC LIMIT ?", [staff, limit])

    def unsigned_past(self, now_ns: int, limit: int = 1000) -> list[dict[str, Any]]:
        """The notices past their deadline nobody signed: the overdue ones (a partial index)."""
        return self._notices("WHERE acked_ns IS NULL AND deadline_ns <= ? ORDER BY id LIMIT ?", [now_ns, limit])

    def _notices(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        cur = self.conn.execute(f"SELECT {NOTICE_COLUMNS} FROM notices {tail}", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]


def _step(c: Any, vid: int, action: str, who: tuple[str, str], text: str, now_ns: int) -> None:
    c.execute(
        "INSERT INTO violation_steps (violation, action, actor, role, text, at_ns) VALUES (?, ?, ?, ?, ?, ?)",
        (vid, action, who[0], who[1], text, now_ns),
    )
