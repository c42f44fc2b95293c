"""A SQLite file's write-ahead log, bounded by design rather than by which thread wins.

SQLite appends every commit to the WAL and starts it over only when a writer begins while all of
it has been copied into the database (a complete checkpoint) and no reader still uses it. A
checkpoint running beside a steady writer may never complete: it copies up to where the WAL ended
when it began, and the writer has appended since. That race alone decided the outbox's WAL: about
1 MB on one machine, 29-32 MB on another. Here:

- Every commit made through `transaction` (gateway/store/sqlite.py) ends with `after_commit`:
  once the WAL file is past `limit` bytes, the committing connection checkpoints it itself. No
  commit can land meanwhile (a file's writers share one thread, or wait for its write lock), and
  the process's other checkpointer (the outbox's thread) waits on `lock` instead of making this
  one fail with SQLITE_BUSY; so the checkpoint completes unless a reader holds an older snapshot,
  and the next commit starts the WAL over.
- `journal_size_limit = limit` cuts the file back to `limit` at that next commit. So whenever the
  file is past `limit`, its size is the WAL's extent, and a `stat` is all a commit pays to know.
- A checkpoint that a reader held back (or that failed: a full disk) is counted and retried at
  the next commit; the log says so once when it starts and once when it ends.
- SQLite's own autocheckpoint is off: it is the same checkpoint without the lock, so it would race.

The WAL file then stays under `limit` plus one transaction, whoever runs when; only a reader
holding a snapshot lets it grow (no checkpoint can copy past what a reader may still read).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

WAL_LIMIT_BYTES = 4 * 1024 * 1024


class WalBound:
    """The WAL bound of one database file, shared by every connection to it in this process."""

    def __init__(self, path: Path, limit: int = WAL_LIMIT_BYTES) -> None:
        self.path = path
        self.wal_path = path.with_name(path.name + "-wal")
        self.limit = limit
        self.lock = threading.Lock()  # one checkpoint at a time in this process
        self.checkpoints = 0  # made by a writer because the WAL was past the limit
        self.held_back = 0  # of those, the ones that could not copy everything (counted, retried)
        self._held_since: int | None = None  # held_back when the current run of them began

    def configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA journal_size_limit = {self.limit}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")

    def size(self) -> int:
        try:
            return os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return 0

    def after_commit(self, conn: sqlite3.Connection) -> None:
        """Checkpoint on `conn` if the WAL is past the limit. Never raises: the commit stands."""
        if self.size() <= self.limit:
            return
        self.checkpoints += 1
        try:
            with self.lock:
                busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as e:
            self._held(f"{type(e).__name__}: {e}")
            return
        if busy or copied < frames:
            self._held(f"a reader holds an older snapshot ({copied} of {frames} pages copied)")
        elif self._held_since is not None:
            log.warning(
                "%s: WAL checkpointed again (%d checkpoints held back meanwhile)",
                self.path.name,
                self.held_back - self._held_since,
            )
            self._held_since = None

    def _held(self, why: str) -> None:
        self.held_back += 1
        if self._held_since is None:
            self._held_since = self.held_back - 1
            log.warning(
                "%s: WAL past %d MiB and its checkpoint is held back: %s; retrying at every commit",
                self.path.name,
                self.limit >> 20,
                why,
            )


class Checkpointer:
    """Routine WAL checkpoints of one file in a thread of their own (PASSIVE: they never wait for
    the writer), once a second or when nudged, so that the writer rarely has to make one itself
    (a checkpoint's fsync would stall the event loop). It takes the file's `lock`, so it delays a
    writer's checkpoint by at most one of its own and never makes it fail."""

    def __init__(self, wal: WalBound, interval_s: float = 1.0) -> None:
        self._wal = wal
        self._interval_s = interval_s
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {wal.path.name}", daemon=True)
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._wal.path, isolation_level=None)
        try:
            while True:
                self._wake.wait(self._interval_s)
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    with self._wal.lock:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:
                    self.failures += 1
                    if self.failures == 1 or self.failures % 600 == 0:
                        log.warning("%s: WAL checkpoint failed (%s); retrying every second", self._wal.path, e)
        finally:
            conn.close()
