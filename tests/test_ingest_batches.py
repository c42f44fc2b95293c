"""The per-batch shortcuts of the ingest path give what the per-event path gives: ratings looked
up a batch at a time count as the reference ledger counts, and health skips only evaluations that
would have found the same."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain import health as domain
from gateway.domain.canonical import HEARTBEAT, STATUS, Event
from gateway.domain.ratings import Ledger
from gateway.health import HealthBook
from gateway.kinds.rating_pad.store import RatingStore
from gateway.kinds.registry import stores
from gateway.store.journal import Journal
from gateway.store.staged import connect
from tests.test_records import events


@given(events, st.integers(1, 3), st.integers(1, 9))
@settings(max_examples=60, deadline=None)
def test_ratings_added_a_batch_at_a_time_count_like_the_reference(evs, times, batch) -> None:
    ledger = Ledger()
    upload = [e for e in evs for _ in range(times)]
    want = [ledger.add(e) for e in upload]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite"
        Journal(path, stores=stores()).close()
        conn = connect(path)
        store = RatingStore(conn)
        got: list[str] = []
        for i in range(0, len(upload), batch):
            got += store.add_many(upload[i : i + batch])
            if i % 2:
                store.flush()  # some batches written before the next one, some not
        # "replaced" is the database's word for a duplicate that is earlier than the one counted.
        assert [("duplicate" if o == "replaced" else o) for o in got] == want
        for by in (None, "window"):
            figures, duplicates = store.summary(0, 10**18, by)
            assert {k: f.out() for k, f in figures.items()} == {k: f.out() for k, f in ledger.figures(by).items()}
            assert duplicates == ledger.duplicates
        conn.close()


event = st.one_of(
    st.builds(lambda on: Event("d", STATUS, 0, {"online": on}), st.booleans()),
    st.builds(
        lambda b, up: Event("d", HEARTBEAT, 0, {"battery": b, "uptime_s": up}), st.integers(0, 100), st.integers(0, 9)
    ),
    st.builds(lambda s: Event("d", "rated", 0, {"score": s}, 1), st.integers(1, 5)),
)


@given(st.lists(st.tuples(st.lists(event, max_size=6), st.integers(0, 3), st.sampled_from([1, 30, 120]))))
@settings(max_examples=150, deadline=None)
def test_health_skips_only_evaluations_that_would_change_nothing(steps) -> None:
    """Batches of events and ticks (some after a silence long enough to go offline), through the
    book (with its shortcuts) and straight through the domain functions: the same health."""
    from gateway.kinds.rating_pad import KIND

    device = SimpleNamespace(id="d", kind="rating_pad", protocol="mqtt", decoder=None)
    book = HealthBook({"d": device})  # type: ignore[dict-item]
    reference = domain.DeviceHealth(
        "d", "rating_pad", "mqtt", rules=KIND.problems, keep=KIND.info, fold=KIND.fold, say=book.devices["d"].say
    )
    reference.drift_limit_s = book.devices["d"].drift_limit_s
    reference.heartbeat_timeout_ns = book.devices["d"].heartbeat_timeout_ns
    now = 10**18
    for batch, ticks, gap_s in steps:
        now += gap_s * 10**9
        for e in batch:
            book.apply(e, now)
            domain.observe(reference, e, now)
        for _ in range(ticks):
            now += 10**9
            book.tick(now)
            domain.tick(reference, now)
        h = book.devices["d"]
        assert (h.health, h.detail, h.online, h.last_seen_ns) == (
            reference.health,
            reference.detail,
            reference.online,
            reference.last_seen_ns,
        )
        assert h.counters == reference.counters and list(h.history) == list(reference.history)
