"""The discipline ledger (违规台账): violations with their evidence and state, every step of their
lifecycle (who, when, why), and the escalations the three strikes raised (one a person a period)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from gateway.store.repos.deliveries import Deliveries
from gateway.store.repository import Repository
from gateway.store.sqlite import transaction

COLUMNS = "id, key, kind, staff, window, department, at_ns, evidence, state, outcome, detected_ns, updated_ns"


class Violations(Repository):
    name = "violations"
    # (violation, action, at) -> the (target, JSON) rows telling the change on MQTT
    # (gateway/features/discipline/feed.py), queued in its own transaction; None: no feed
    told: Callable[[dict[str, Any], str, int], list[tuple[str, str]]] | None = None
    migrations = (
        """
        CREATE TABLE violations (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,       -- the occurrence (kind, who or where, when it began): recorded once
            kind TEXT NOT NULL,             -- unready, away, phone
            staff TEXT NOT NULL,
            window TEXT,
            department TEXT NOT NULL DEFAULT '',
            at_ns INTEGER NOT NULL,         -- when it began
            evidence TEXT NOT NULL,         -- JSON: the device events it came from
            state TEXT NOT NULL,            -- detected, confirmed, dismissed, appealed, decided
            outcome TEXT,                   -- a decision: upheld, overturned
            detected_ns INTEGER NOT NULL,
            updated_ns INTEGER NOT NULL
        );
        CREATE INDEX violations_at ON violations (at_ns);
        CREATE INDEX violations_staff ON violations (staff, at_ns);
        CREATE TABLE violation_steps (
            id INTEGER PRIMARY KEY,
            violation INTEGER NOT NULL REFERENCES violations (id),
            action TEXT NOT NULL,           -- detect, confirm, dismiss, appeal, decide
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            text TEXT NOT NULL,             -- the reason, the appeal's note
            outcome TEXT,
            at_ns INTEGER NOT NULL
        );
        CREATE INDEX violation_steps_of ON violation_steps (violation, id);
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            staff TEXT NOT NULL,
            period TEXT NOT NULL,           -- 2026, 2026-Q4, 2026-12
            violations TEXT NOT NULL,       -- JSON: the ids that reached the count
            at_ns INTEGER NOT NULL,
            UNIQUE (staff, period)
        );
        """,
    )

    def add(self, rows: Sequence[dict[str, Any]], now_ns: int) -> list[int]:
        """New violations (one a key: a key already recorded is skipped); the ids of those added."""
        added = []
        with transaction(self.conn) as c:
            for r in rows:
                cur = c.execute(
                    "INSERT INTO violations (key, kind, staff, window, department, at_ns, evidence, state, "
                    "detected_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, 'detected', ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (r["key"], r["kind"], r["staff"], r["window"], r.get("department", ""), r["at_ns"],
                     json.dumps(r["evidence"], ensure_ascii=False), now_ns, now_ns),
                )  # fmt: skip
                if cur.rowcount:
                    assert cur.lastrowid is not None
                    added.append(cur.lastrowid)
                    # A device's is detected by the gateway; a patrol's recorded by a person (`by`).
                    actor, role = r.get("by") or ("gateway", "gateway")
                    c.execute(
                        "INSERT INTO violation_steps (violation, action, actor, role, text, at_ns) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (cur.lastrowid, "record" if r.get("by") else "detect", actor, role, r.get("note", ""), now_ns),
                    )
                    if self.told is not None:
                        row = {**r, "id": cur.lastrowid, "state": "detected", "outcome": None}
                        Deliveries.queue_in(c, self.told(row, "record" if r.get("by") else "detect", now_ns), now_ns)
        return added

    def keys_since(self, since_ns: int) -> set[str]:
        return {k for (k,) in self.conn.execute("SELECT key FROM violations WHERE at_ns >= ?", (since_ns,))}

    def get(self, vid: int) -> dict[str, Any] | None:
        rows = self._rows("WHERE id = ?", [vid])
        if not rows:
            return None
        row = rows[0]
        cur = self.conn.execute(
            "SELECT action, actor, role, text, outcome, at_ns FROM violation_steps WHERE violation = ? ORDER BY id",
            (vid,),
        )
        row["steps"] = [dict(zip(("action", "actor", "role", "text", "outcome", "at_ns"), s, strict=True)) for s in cur]
        return row

    def step(self, vid: int, state: str, before: str, action: str, who: tuple[str, str], text: str,
             outcome: str | None, now_ns: int, notices: Sequence[tuple[str, str]] = ()) -> bool:  # fmt: skip
        """Move a violation from `before` to `state`, with the step that did it and the (target,
        JSON) `notices` it sends (queued for delivery in the same transaction); False when it was
        no longer in `before` (another person's step came first)."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "UPDATE violations SET state = ?, outcome = COALESCE(?, outcome), updated_ns = ? "
                "WHERE id = ? AND state = ?",
                (state, outcome, now_ns, vid, before),
            )
            if not cur.rowcount:
                return False
            c.execute(
                "INSERT INTO violation_steps (violation, action, actor, role, text, outcome, at_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (vid, action, who[0], who[1], text, outcome, now_ns),
            )
            Deliveries.queue_in(c, notices, now_ns)
            if self.told is not None:
                row = dict(zip(("id", "kind", "window", "department", "state", "outcome"), c.execute(
                    "SELECT id, kind, window, department, state, outcome FROM violations WHERE id = ?", (vid,)
                ).fetchone(), strict=True))  # fmt: skip
                Deliveries.queue_in(c, self.told(row, action, now_ns), now_ns)
        return True

    def find(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        state: str | None = None,
        staff: str | None = None,
        department: str | None = None,
        kind: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = ["1=1"], []
        for sql, value in (
            ("at_ns >= ?", start_ns),
            ("at_ns < ?", end_ns),
            ("state = ?", state),
            ("staff = ?", staff),
            ("department = ?", department),
            ("kind = ?", kind),
        ):
            if value is not None:
                where.append(sql)
                args.append(value)
        return self._rows(f"WHERE {' AND '.join(where)} ORDER BY at_ns DESC, id DESC LIMIT ?", [*args, limit])

    def tally(self, start_ns: int, end_ns: int) -> list[tuple[str, str, str, str, str | None]]:
        """(department, staff, kind, state, outcome) of each violation begun in [start, end): what
        the counts need, without the evidence."""
        q = "SELECT department, staff, kind, state, outcome FROM violations WHERE at_ns >= ? AND at_ns < ?"
        return list(self.conn.execute(q, (start_ns, end_ns)))

    def _rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        cur = self.conn.execute(f"SELECT {COLUMNS} FROM violations {tail}", args)
        names = [d[0] for d in cur.description]
        out = []
        for row in cur:
            r = dict(zip(names, row, strict=True))
            r["evidence"] = json.loads(r["evidence"])
            out.append(r)
        return out

    # -- retention ---------------------------------------------------------------------------------

    def forget(self, before_ns: int, limit: int) -> tuple[int, int, int, int | None, int | None, set[str]]:
        """Delete up to `limit` violations whose last step (or detection) is before `before_ns`,
        with their steps, photo rows and notices, in one transaction: (violations, photos, notices,
        earliest at_ns, latest at_ns, the removed photos' digests). Escalations stay: one sent
        stays sent. The connection's secure_delete overwrites what is freed (the caller sets it)."""
        with transaction(self.conn) as c:
            ids = [
                i
                for (i,) in c.execute(
                    "SELECT v.id FROM violations v WHERE v.updated_ns < ?1 AND v.detected_ns < ?1 AND NOT EXISTS "
                    "(SELECT 1 FROM violation_steps s WHERE s.violation = v.id AND s.at_ns >= ?1) "
                    "ORDER BY v.id LIMIT ?2",
                    (before_ns, limit),
                )
            ]
            if not ids:
                return 0, 0, 0, None, None, set()
            marks = ",".join("?" * len(ids))
            first, last = c.execute(
                f"SELECT MIN(at_ns), MAX(at_ns) FROM violations WHERE id IN ({marks})", ids
            ).fetchone()
            digests = {
                d for (d,) in c.execute(f"SELECT digest FROM violation_photos WHERE violation IN ({marks})", ids)
            }
            photos = c.execute(f"DELETE FROM violation_photos WHERE violation IN ({marks})", ids).rowcount
            notices = c.execute(f"DELETE FROM notices WHERE violation IN ({marks})", ids).rowcount
            c.execute(f"DELETE FROM violation_steps WHERE violation IN ({marks})", ids)
            c.execute(f"DELETE FROM violations WHERE id IN ({marks})", ids)
        return len(ids), photos, notices, first, last, digests

    def photo_digests(self, digests: set[str]) -> set[str]:
        """Those of `digests` a kept violation's photo still is."""
        if not digests:
            return set()
        q = f"SELECT digest FROM violation_photos WHERE digest IN ({','.join('?' * len(digests))})"
        return {d for (d,) in self.conn.execute(q, list(digests))}

    # -- three strikes -----------------------------------------------------------------------------

    def escalate(
        self, staff: str, period: str, ids: Sequence[int], now_ns: int, notices: Sequence[tuple[str, str]] = ()
    ) -> int | None:
        """The escalation of `staff` in `period`, once, with its `notices` queued: its id, or None
        when it was raised already."""
        with transaction(self.conn) as c:
            cur = c.execute(
                "INSERT INTO escalations (staff, period, violations, at_ns) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (staff, period) DO NOTHING",
                (staff, period, json.dumps(list(ids)), now_ns),
            )
            if not cur.rowcount:
                return None
            Deliveries.queue_in(c, notices, now_ns)
            return cur.lastrowid

    def escalated(self, staff: str, period: str) -> bool:
        q = "SELECT 1 FROM escalations WHERE staff = ? AND period = ?"
        return self.conn.execute(q, (staff, period)).fetchone() is not None

    def escalations(self, period: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, staff, period, violations, at_ns FROM escalations"
        cur = self.conn.execute(
            q + (" WHERE period = ? ORDER BY id" if period else " ORDER BY id"), [period] if period else []
        )
        return [{"id": i, "staff": s, "period": p, "violations": json.loads(v), "at_ns": at} for i, s, p, v, at in cur]
