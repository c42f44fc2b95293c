from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.canonical import Priority
from gateway.store.outbox import Outbox, OutboxFull
from gateway.store.wal import WAL_LIMIT_BYTES

A, E, T = Priority.AUDIT, Priority.EVENT, Priority.TELEMETRY


def line(n: int, size: int = 100) -> str:
    text = f"m,id={n} v=1i {n}"
    return text + "x" * (size - len(text))  # fixed size makes the arithmetic in tests exact


def test_append_peek_ack_in_priority_then_age_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([(T, line(1)), (E, line(2)), (A, line(3)), (T, line(4)), (E, line(5))])
    batch = box.peek(10)
    assert [int(x.split("id=")[1].split(" ")[0]) for x in batch.lines] == [3, 2, 5, 1, 4]
    assert batch.bytes == 500
    first = box.peek(2)
    box.ack(first)
    assert box.depth_records == 3
    s = box.stats()
    assert s.delivered_total == 2 and s.depth_by_class == {"audit": 0, "event": 1, "telemetry": 2}
    box.ack(box.peek(10), rejected=1)
    s = box.stats()
    assert (s.depth_records, s.depth_bytes, s.delivered_total, s.rejected_total) == (0, 0, 4, 1)
    box.close()


def test_reopen_keeps_records_and_counters(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([(T, line(i)) for i in range(100)])
    box.ack(box.peek(10))
    box.close()
    box = Outbox(tmp_path / "o.db")
    s = box.stats()
    assert (s.depth_records, s.depth_bytes, s.delivered_total) == (90, 9000, 10)
    assert box.peek(1).lines == [line(10)]
    box.close()


def test_full_drops_telemetry_then_events_oldest_first_and_counts(tmp_path: Path, caplog) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=1000)
    box.append([(E, line(1)), (T, line(2)), (T, line(3)), (A, line(4))])
    box.append([(T, line(i)) for i in range(10, 16)])  # exactly full
    assert box.depth_bytes == 1000 and box.stats().dropped_by_class["telemetry"] == 0
    with caplog.at_level(logging.WARNING):
        box.append([(E, line(20)), (E, line(21))])  # evicts the two oldest telemetry
    assert box.stats().dropped_by_class == {"audit": 0, "event": 0, "telemetry": 2}
    assert "dropped 2 telemetry" in caplog.text
    lines = box.peek(100).lines
    assert line(2) not in lines and line(3) not in lines and line(10) in lines
    # Events evict telemetry until none is left, then the oldest events.
    box.append([(E, line(i)) for i in range(30, 38)])
    s = box.stats()
    assert s.depth_by_class == {"audit": 1, "event": 9, "telemetry": 0}
    assert s.dropped_by_class == {"audit": 0, "event": 2, "telemetry": 8}
    assert line(1) not in box.peek(100).lines  # the oldest event went first
    assert box.depth_bytes <= 1000
    box.close()


def test_new_telemetry_never_evicts_events_and_audit_is_never_dropped(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=500)
    box.append([(A, line(1)), (A, line(2)), (E, line(3)), (E, line(4)), (E, line(5))])
    box.append([(T, line(6))])  # refused: only more important records are stored
    assert box.stats().dropped_by_class == {"audit": 0, "event": 0, "telemetry": 1}
    box.append([(A, line(7)), (A, line(8)), (A, line(9))])  # evicts all the events
    s = box.stats()
    assert s.depth_by_class == {"audit": 5, "event": 0, "telemetry": 0}
    assert s.dropped_by_class["event"] == 3
    # Only audit left and still full: the append fails, stores nothing, and says so.
    with pytest.raises(OutboxFull):
        box.append([(E, line(10)), (A, line(11))])
    s = box.stats()
    assert s.audit_full and s.depth_records == 5 and s.dropped_by_class["audit"] == 0
    box.ack(box.peek(1))
    box.append([(A, line(12))])
    assert not box.stats().audit_full
    box.close()


def test_corrupt_file_is_set_aside(tmp_path: Path, caplog) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path)
    box.append([(T, line(i)) for i in range(2000)])
    box.close()
    data = bytearray(path.read_bytes())
    data[8192:16384] = b"\xff" * 8192  # trash some b-tree pages
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR):
        box = Outbox(path)
    assert box.depth_records == 0
    assert "not a sound SQLite database" in caplog.text
    assert len(list(tmp_path.glob("o.db.corrupt-*"))) == 1
    box.append([(T, line(1))])
    assert box.depth_records == 1
    box.close()


def test_not_an_sqlite_file_is_set_aside(tmp_path: Path, caplog) -> None:
    path = tmp_path / "o.db"
    path.write_text("this is not a database, it is a note someone left here\n" * 100)
    with caplog.at_level(logging.ERROR):
        box = Outbox(path)
    assert box.depth_records == 0 and "moved it to o.db.corrupt-" in caplog.text
    box.close()


def test_a_foreign_sqlite_database_is_set_aside(tmp_path: Path, caplog) -> None:
    """Another program's database at the outbox's path (here with a `records` table of its own) is
    moved aside intact, never written into or dropped."""
    path = tmp_path / "o.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (x)")
    conn.execute("INSERT INTO records VALUES ('theirs')")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.ERROR):
        box = Outbox(path)
    box.append([(T, line(1))])
    assert box.depth_records == 1
    box.close()
    [aside] = tmp_path.glob("o.db.corrupt-*")
    assert f"moved it to {aside.name}" in caplog.text
    conn = sqlite3.connect(aside)
    try:
        assert conn.execute("SELECT * FROM records").fetchall() == [("theirs",)]
    finally:
        conn.close()


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_pruning_keeps_the_file_bounded(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    # Checkpoints only where this test makes them, so what it measures does not depend on timing.
    box = Outbox(path, synchronous="NORMAL", background_checkpoints=False)
    full, empty = [], []
    for _cycle in range(4):
        for i in range(0, 20_000, 500):
            box.append([(T, line(i + j, 200)) for j in range(500)])
        box.checkpoint()  # what the checkpointer thread does while time passes
        full.append((_disk(path), path.stat().st_size))
        while box.depth_records:
            box.ack(box.peek(5000))
        box.checkpoint()
        empty.append(path.stat().st_size)
    # Freed pages are reused: four fill/drain cycles do not grow the files (database + WAL) ...
    assert max(total for total, _ in full) <= full[0][0] * 1.2
    # ... and once drained, incremental vacuum has given most of the database file back.
    assert max(empty) < full[0][1] / 2
    box.close()


def test_ack_after_eviction_counts_only_what_it_deletes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=1000)
    box.append([(T, line(i)) for i in range(10)])
    batch = box.peek(5)
    box.append([(E, line(i)) for i in range(100, 103)])  # evicts 3 of the in-flight records
    box.ack(batch)
    s = box.stats()
    assert s.delivered_total == 2 and s.depth_records == 8 and s.depth_bytes == 800
    box.close()


_records = st.lists(st.tuples(st.sampled_from(list(Priority)), st.integers(min_value=10, max_value=400)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_records, st.integers(min_value=0, max_value=8)), max_size=8))
def test_property_bounds_and_audit_last(tmp_path_factory, steps) -> None:
    box = Outbox(tmp_path_factory.mktemp("p") / "o.db", max_bytes=3000, synchronous="OFF")
    n = 0
    for records, to_ack in steps:
        before = box.stats()
        batch = [(p, line(n + i, size)) for i, (p, size) in enumerate(records)]
        n += len(batch)
        try:
            box.append(batch)
        except OutboxFull:
            assert box.stats().depth_records == before.depth_records
        after = box.stats()
        assert after.depth_bytes <= 3000
        if after.dropped_by_class["audit"] > 0:
            raise AssertionError("an audit record was dropped")
        # An event is dropped only when every telemetry record that was there before is gone.
        if after.dropped_by_class["event"] > before.dropped_by_class["event"]:
            added = sum(1 for p, _ in records if p is T)
            assert after.depth_by_class["telemetry"] <= added
        assert after.depth_records == sum(after.depth_by_class.values())
        box.ack(box.peek(to_ack))
    box.close()


@pytest.mark.parametrize("background", [False, True], ids=["writer alone", "with the checkpointer thread"])
def test_the_wal_stays_under_its_bound_whoever_checkpoints(tmp_path: Path, background: bool) -> None:
    """The WAL stays under its bound (WAL_LIMIT_BYTES plus one transaction) by design: the writer
    checkpoints itself once it is past the bound. Alone it must keep the bound; with the
    checkpointer thread running beside it, whatever that thread does or does not finish first, the
    bound is the same. 48 MB of lines appended as fast as the loop can."""
    path = tmp_path / "o.db"
    box = Outbox(path, synchronous="NORMAL", background_checkpoints=background)
    wal = path.with_name(path.name + "-wal")
    biggest = 0
    for i in range(0, 240_000, 500):
        box.append([(T, line(i + j, 200)) for j in range(500)])  # 100 KB of lines a transaction
        biggest = max(biggest, wal.stat().st_size)
    box.close()
    one_transaction = 512 * 1024  # 100 KB of lines: about 40 pages of table and index
    assert biggest <= WAL_LIMIT_BYTES + one_transaction, biggest
    print(f"WAL at most {biggest / 2**20:.2f} MiB ({'with' if background else 'without'} the checkpointer thread)")


def test_a_reader_holding_a_snapshot_holds_the_checkpoint_back_counted_and_retried(tmp_path: Path, caplog) -> None:
    """No checkpoint can copy past what a reader may still read: while one holds a snapshot the WAL
    grows, each held-back checkpoint is counted and retried at the next commit, the log says so
    once, and the first commits after the reader lets go bring the file back under the bound."""
    path = tmp_path / "o.db"
    box = Outbox(path, synchronous="OFF", background_checkpoints=False)
    wal = path.with_name(path.name + "-wal")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM records").fetchone() == (0,)  # the snapshot is taken
    n = 0
    with caplog.at_level(logging.WARNING):
        while wal.stat().st_size <= 2 * WAL_LIMIT_BYTES:
            box.append([(T, line(n + j, 200)) for j in range(500)])
            n += 500
        held = box.file.wal.held_back
        assert held >= 2, held
        assert caplog.text.count("checkpoint is held back") == 1, caplog.text
        reader.execute("COMMIT")
        for _ in range(2):  # one commit checkpoints everything, the next starts the WAL over
            box.append([(T, line(n + j, 200)) for j in range(500)])
            n += 500
    assert wal.stat().st_size <= WAL_LIMIT_BYTES
    assert f"checkpointed again ({held} checkpoints held back meanwhile)" in caplog.text, caplog.text
    assert box.depth_records == n
    reader.close()
    box.close()
