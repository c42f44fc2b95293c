"""The eviction planner alone (gateway/store/eviction.py): what a full outbox would drop, planned
on stored records given as a list. The outbox's own tests (tests/test_store_outbox.py) check the
same rules through SQLite."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.domain.canonical import Priority
from gateway.store.eviction import plan_eviction

A, E, T = Priority.AUDIT, Priority.EVENT, Priority.TELEMETRY

# id -> (class, size): telemetry 1, 2, 5 (10 bytes each), events 3, 4 (20 each), one audit record.
STORED = {1: (T, 10), 2: (T, 10), 3: (E, 20), 4: (E, 20), 5: (T, 10), 6: (A, 5)}


def next_rows(prio: Priority, after: int) -> Sequence[tuple[int, int]]:
    """Two rows at a time, so a plan that spans chunks is exercised."""
    return [(rid, size) for rid, (p, size) in sorted(STORED.items()) if p is prio and rid > after][:2]


def state() -> tuple[dict[Priority, int], dict[Priority, int], dict[Priority, int]]:
    return {A: 1, E: 2, T: 3}, {A: 5, E: 40, T: 30}, {}


def test_telemetry_goes_first_oldest_first_and_only_as_much_as_needed() -> None:
    count, nbytes, upto = state()
    assert plan_eviction(E, 15, count, nbytes, upto, next_rows)
    assert upto == {T: 2}  # ids 1 and 2: 20 bytes free 15; id 5 stays
    assert count == {A: 1, E: 2, T: 1} and nbytes == {A: 5, E: 40, T: 10}


def test_an_audit_record_drops_all_telemetry_then_the_oldest_event_but_never_audit() -> None:
    count, nbytes, upto = state()
    assert plan_eviction(A, 35, count, nbytes, upto, next_rows)
    assert upto == {T: 5, E: 3}
    assert count == {A: 1, E: 1, T: 0} and nbytes == {A: 5, E: 20, T: 0}
    count, nbytes, upto = state()
    assert not plan_eviction(A, 71, count, nbytes, upto, next_rows)  # 70 bytes are not audit
    assert (count, nbytes, upto) == state()


def test_new_telemetry_never_evicts_an_event_and_a_refusal_changes_nothing() -> None:
    count, nbytes, upto = state()
    assert not plan_eviction(T, 35, count, nbytes, upto, next_rows)  # telemetry holds only 30
    assert (count, nbytes, upto) == state()


def test_records_this_append_adds_are_counted_but_never_planned_away() -> None:
    """The count includes this batch's own telemetry (not stored yet): the planner stops at the
    table's end instead of looping on it."""
    count, nbytes, upto = state()
    count[T], nbytes[T] = 5, 50
    assert not plan_eviction(T, 40, count, nbytes, upto, next_rows)
    assert plan_eviction(T, 30, count, nbytes, upto, next_rows)
    assert upto == {T: 5} and count[T] == 2 and nbytes[T] == 20


def test_a_second_plan_in_the_same_append_continues_after_the_first() -> None:
    count, nbytes, upto = state()
    assert plan_eviction(E, 10, count, nbytes, upto, next_rows)
    assert upto == {T: 1}
    assert plan_eviction(E, 10, count, nbytes, upto, next_rows)
    assert upto == {T: 2} and count[T] == 1
