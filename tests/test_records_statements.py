"""The ratings store looks up a batch with `IN (...)` statements of a few sizes only: each distinct
text is a prepared statement its connection caches, so one text per batch size held megabytes."""

from __future__ import annotations

from pathlib import Path

from gateway.domain.ratings import from_fields
from gateway.kinds.rating_pad.store import IN_CHUNK, RatingStore
from gateway.kinds.registry import stores
from gateway.store.journal import Journal
from gateway.store.staged import connect

NS = 10**9


def test_batches_of_every_size_use_a_bounded_set_of_statements(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    Journal(path, stores=stores()).close()
    conn = connect(path)
    texts: set[str] = set()
    conn.set_trace_callback(lambda sql: texts.add(sql) if sql.startswith("SELECT") else None)
    store = RatingStore(conn)
    seq = 0
    for size in range(1, 700):  # every batch size, up to more than one chunk
        batch = []
        for _ in range(size):
            seq += 1
            fields = {"case_id": f"c{seq}", "window": "W01", "score": 5}
            batch.append(from_fields(True, "rp-1", seq, seq * NS, "2026-11-23", fields, "z"))
        assert store.add_many(batch) == ["new"] * size
        assert store.add_many(batch[:1]) == ["resend"]
        store.flush()
    # The trace shows each statement with its parameters bound in: count what is in each IN (...).
    shapes = {(t.split(" FROM ")[1].split()[0], t.split(" IN (")[1].split(")")[0].count(",") + 1) for t in texts}
    powers = {1 << i for i in range(IN_CHUNK.bit_length())}  # 1, 2, 4 ... IN_CHUNK
    assert {n for _, n in shapes} <= powers
    assert len(shapes) <= 2 * len(powers)  # two lookups (events, ratings), each of a few sizes
    conn.close()
