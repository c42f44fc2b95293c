"""The attendance machines' punches in the state database: the kind's store (`KIND.stores`), on a
connection of its own, staged per batch (gateway/store/staged.py says why).

Uniqueness is the database's: a punch's device, seq and time are its key, so a resend, a replayed
backlog or a restart never counts anything twice.
"""

from __future__ import annotations

from gateway.domain.attendance import Punch
from gateway.store.staged import StagedRows


class PunchStore(StagedRows):
    name = "punches"
    migrations = (
        """
        CREATE TABLE punches (            -- attendance punches, one row per device, seq and time
            device TEXT NOT NULL,
            seq INTEGER NOT NULL,         -- -1 when the device sends none
            ts_ns INTEGER NOT NULL,       -- the machine's time
            day TEXT NOT NULL,            -- the hall's local date of ts_ns
            staff TEXT NOT NULL,
            method TEXT NOT NULL,
            direction TEXT NOT NULL,      -- in, out, unknown (as punched)
            flag TEXT,                    -- past, future: an impossible date (clock reset), left out of the figures
            received_ns INTEGER NOT NULL,
            PRIMARY KEY (device, seq, ts_ns)
        ) WITHOUT ROWID;
        CREATE INDEX punches_day_staff ON punches (day, staff, ts_ns);
        CREATE INDEX punches_flag ON punches (flag) WHERE flag IS NOT NULL;
        """,
    )

    INSERT = (
        "INSERT OR IGNORE INTO punches (device, seq, ts_ns, day, staff, method, direction, flag, received_ns) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    def add(self, p: Punch, day: str, flag: str | None, now_ns: int) -> bool:
        """False when this punch (device, seq, time) is already stored."""
        key = (p.device, -1 if p.seq is None else p.seq, p.ts_ns)
        if (
            key in self._rows
            or self.conn.execute("SELECT 1 FROM punches WHERE device = ? AND seq = ? AND ts_ns = ?", key).fetchone()
        ):
            return False
        self._rows[key] = (*key, day, p.staff, p.method, p.direction, flag, now_ns)
        return True

    def day(self, day: str) -> dict[str, list[Punch]]:
        """The day's punches per person (those with an impossible date left out)."""
        self.flush_for_read()
        out: dict[str, list[Punch]] = {}
        for device, seq, ts, staff, method, direction in self.conn.execute(
            "SELECT device, seq, ts_ns, staff, method, direction FROM punches WHERE day = ? AND flag IS NULL",
            (day,),
        ):
            out.setdefault(staff, []).append(Punch(device, None if seq == -1 else seq, ts, staff, method, direction))
        return out

    def first_day(self) -> str | None:
        self.flush_for_read()
        return self.conn.execute("SELECT min(day) FROM punches WHERE flag IS NULL").fetchone()[0]

    def set_aside(self) -> dict[str, int]:
        """Punches left out of the figures, by why (past, future)."""
        self.flush_for_read()
        return dict(self.conn.execute("SELECT flag, count(*) FROM punches WHERE flag IS NOT NULL GROUP BY flag"))
