"""The ledger's retention: violations past `discipline.retention_days` (counted from their last
step, gateway/domain/ledger_retention.py) leave the state database with their steps, photos and
notices, and the photo files go; the read audit (`ledger_reads`) after its own
`reads_retention_days`. Once a day, on the command desk's tick.

A pass deletes in batches of `BATCH` violations, one transaction each and one batch a tick, so the
writer is held for one small transaction at a time and the event loop runs between them. While it
deletes, the connection's `secure_delete` is on (whatever SQLite was built with): the freed pages
are overwritten with zeros. At its end a TRUNCATE checkpoint copies those pages into the database
file and empties the WAL, where older copies of the pages would otherwise stay. The pass is then
audited (the command audit, `action` retention): how many, which period, no names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.config.discipline import Discipline
from gateway.domain import ledger_retention as r
from gateway.features.discipline.photos import EXT
from gateway.store.repos.audit import Audit
from gateway.store.repos.ledger_reads import LedgerReads
from gateway.store.repos.violations import Violations

log = logging.getLogger(__name__)

BATCH = 200  # violations a transaction (with their steps: a few hundred rows, milliseconds)
READS_BATCH = 2000


class Retention:
    def __init__(
        self, cfg: Discipline, zone: str, repo: Violations, reads: LedgerReads, audit: Audit, photos: Path
    ) -> None:
        self.cfg, self.zone = cfg, ZoneInfo(zone)
        self.repo, self.reads, self.audit, self.photos = repo, reads, audit, photos
        self.next_ns = 0  # the first tick starts a pass, then one a day
        self.swept: r.Swept | None = None  # the pass under way
        self.cut = self.reads_cut = 0

    def tick(self, now_ns: int) -> None:
        if self.swept is None:
            if now_ns < self.next_ns:
                return
            self.start(now_ns)
        if not self.step():
            self.finish(now_ns)

    def run(self, now_ns: int) -> r.Swept:
        """A whole pass at once (the tick spreads it over ticks): what it removed."""
        swept = self.start(now_ns)
        while self.step():
            pass
        self.finish(now_ns)
        return swept

    def start(self, now_ns: int) -> r.Swept:
        self.swept = r.Swept()
        self.cut = r.cutoff(now_ns, self.cfg.retention_days)
        self.reads_cut = r.cutoff(now_ns, self.cfg.reads_retention_days)
        return self.swept

    def step(self) -> bool:
        """One batch (of violations, else of reads): True while there may be more."""
        s = self.swept
        assert s is not None
        conn = self.repo.conn
        before = conn.execute("PRAGMA secure_delete").fetchone()[0]
        conn.execute("PRAGMA secure_delete = ON")
        try:
            n, photos, notices, first, last, digests = self.repo.forget(self.cut, BATCH)
            s.add(n, photos, notices, first, last)
            self.unlink(r.unused(digests, self.repo.photo_digests(digests)))
            if n == BATCH:
                return True
            reads = self.reads.purge(self.reads_cut, READS_BATCH)
            s.reads += reads
            return reads == READS_BATCH
        finally:
            conn.execute(f"PRAGMA secure_delete = {int(before)}")

    def unlink(self, digests: set[str]) -> None:
        # After the commit: a crash before this leaves a file no row names (never a row without its file).
        for d in digests:
            for ext in EXT.values():
                (self.photos / f"{d}.{ext}").unlink(missing_ok=True)

    def finish(self, now_ns: int) -> None:
        s, self.swept = self.swept, None
        self.next_ns = now_ns + r.DAY_NS
        if s is None or not (s.violations or s.reads):
            return
        self.checkpoint()
        self.audit.add_audit(
            {
                "at_ns": now_ns,
                "device": "discipline",
                "part": None,
                "action": "retention",
                "actor": "gateway",
                "role": "gateway",
                "reason": r.reason(s, self.cfg.retention_days, self.zone),
                "outcome": "confirmed",
                "error": None,
                "latency_ms": None,
                "command_id": None,
            }
        )
        log.info("discipline ledger retention: %d violations, %d reads deleted", s.violations, s.reads)

    def checkpoint(self) -> None:
        """Copy the zeroed pages into the file and empty the WAL (which still holds the old ones)."""
        conn = self.repo.conn
        file = getattr(conn, "file", None)
        if file is None:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        with file.wal.lock:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:  # a reader's snapshot: the next day's pass empties it (the pages are zeroed already)
            log.warning("discipline ledger retention: the WAL could not be emptied (a reader holds it)")
