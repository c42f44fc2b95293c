"""Every connection the gateway keeps to its databases has a small page cache (gateway/store/sqlite.py,
issue 19): SQLite's default, 2 MiB each, filled over minutes as the tables grew (the alerts' connection
at a 差评's pace), a dozen MiB of the resident set coming late and staying."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.kinds.rating_pad.store import RatingStore
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox
from gateway.store.sqlite import CACHE_KIB
from gateway.store.staged import attach


def _cache_kib(conn: sqlite3.Connection) -> int:
    return -conn.execute("PRAGMA cache_size").fetchone()[0]


def test_the_journal_the_outbox_and_a_kinds_store_keep_small_page_caches(tmp_path: Path) -> None:
    assert CACHE_KIB < 2000  # below SQLite's own default, or this bounds nothing
    journal = Journal(tmp_path / "state.sqlite")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    store, close = attach(journal.path, RatingStore)
    try:
        assert _cache_kib(journal.conn) == CACHE_KIB
        assert _cache_kib(outbox.connection) == CACHE_KIB
        assert _cache_kib(store.conn) == CACHE_KIB
    finally:
        close()
        outbox.close()
        journal.close()
