"""Polled readings encoded from cached parts are exactly what to_line writes, or fail as it does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.canonical import READING, Event
from gateway.ingest.poll_lines import reading_line
from gateway.store.points import PointError, to_line

VALUES = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=8),
    st.none(),
    st.lists(st.booleans(), max_size=3),
)


def _outcome(fn: Any, event: Event) -> tuple[str, str]:
    try:
        return "line", fn(event, "site 1", "people_counter")
    except PointError as e:
        return "error", e.reason


@settings(max_examples=300, deadline=None)
@given(
    st.text(min_size=1, max_size=6),
    st.dictionaries(st.text(min_size=1, max_size=6), VALUES, max_size=4),
    st.integers(0, 2**63 - 1),
)
def test_same_line_or_same_refusal_as_to_line(device: str, fields: dict[str, Any], ts: int) -> None:
    event = Event(device, READING, ts, fields)
    assert _outcome(reading_line, event) == _outcome(to_line, event)
    assert _outcome(reading_line, event) == _outcome(to_line, event)  # again, from the cache


def test_equal_values_of_other_types_are_other_fields() -> None:
    for value in (1, 1.0, True):
        event = Event("pc-1", READING, 5, {"in_total": value})
        assert reading_line(event, "s", "people_counter") == to_line(event, "s", "people_counter")
