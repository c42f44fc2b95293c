"""Which visit a rating names (gateway/domain/rated_visits.py): by case id, else by window and ticket
within the day; 评价率 counted per visit, whatever order the two sides came in."""

from __future__ import annotations

import itertools

from gateway.domain.rated_visits import RatingRef, Served, VisitIndex, join, ratings_by_line, visit_rates
from gateway.domain.ratings import Rating, rating_key

DAY = "2026-12-07"
MIN = 60 * 10**9


def visit(
    ticket: str, window: str, case: str, ended_min: int, *, gen: int = 0, line: str = "A", day: str = DAY
) -> Served:
    return Served(day, ticket, gen, ended_min * MIN, window, "S1", f"item-{line}", line, case)


def rating(
    ticket: str, window: str, case: str, at_min: int, *, rated: bool = True, seq: int = 1, day: str = DAY
) -> Rating:
    ts = at_min * MIN
    return Rating(
        rating_key(rated, case, f"rp-{window}", seq, ts), rated, f"rp-{window}", seq, ts, day, case, window, "S1",
        "x", "z", ticket, 5 if rated else None,
    )  # fmt: skip


def test_a_case_id_names_its_visit_wherever_the_ticket_was_served() -> None:
    a = visit("A001", "W01", "C-1", 10)
    index = VisitIndex([a, visit("A002", "W02", "C-2", 11)])
    assert index.find(rating("A001", "W01", "C-1", 11)) is a
    assert index.find(rating("", "W09", "C-1", 11)) is a  # the case id alone suffices


def test_without_a_case_id_the_window_and_ticket_of_the_same_day_name_it() -> None:
    a = visit("A001", "W01", "C-1", 10)
    index = VisitIndex([a])
    assert index.find(rating("A001", "W01", "", 11)) is a
    assert index.find(rating("A001", "W02", "", 11)) is None  # another window
    assert index.find(rating("A001", "W01", "", 11, day="2026-12-08")) is None  # tickets restart daily
    assert index.find(rating("", "W01", "", 11)) is None  # no ticket: nothing to go by


def test_a_visit_without_a_case_id_is_named_by_window_and_ticket_and_another_case_is_not_this_one() -> None:
    blank = visit("A001", "W01", "", 10)
    assert VisitIndex([blank]).find(rating("A001", "W01", "C-9", 11)) is blank  # the queue did not pass it
    other = visit("A001", "W01", "C-1", 10)
    assert VisitIndex([other]).find(rating("A001", "W01", "C-9", 11)) is None  # another case's rating


def test_of_a_ticket_issued_twice_that_day_the_visit_finished_last_before_the_rating_is_named() -> None:
    first = visit("A001", "W01", "", 10, gen=0)
    second = visit("A001", "W01", "", 200, gen=1)
    index = VisitIndex([second, first])
    assert index.find(rating("A001", "W01", "", 11)) is first
    assert index.find(rating("A001", "W01", "", 201)) is second
    assert index.find(rating("A001", "W01", "", 5)) is first  # before both (a pad's clock behind): the nearest


def test_the_rating_rate_counts_visits_rated_over_visits_served_in_any_order() -> None:
    served = [
        visit("A001", "W01", "C-1", 10),  # rated by case id
        visit("A002", "W01", "C-2", 12),  # rated without a case id
        visit("A003", "W02", "C-3", 13, line="B"),  # prompt expired
        visit("A004", "W03", "C-4", 14, line="B"),  # no pad asked
        visit("A005", "W02", "C-5", 15, line="B"),  # expired, then rated: rated
    ]
    ratings = [
        rating("A001", "W01", "C-1", 9),  # before its visit finished
        rating("A002", "W01", "", 13, seq=2),
        rating("A003", "W02", "", 14, rated=False, seq=3),
        rating("A005", "W02", "", 16, rated=False, seq=4),
        rating("A005", "W02", "C-5", 17, seq=5),
        rating("Z999", "W01", "C-0", 18, seq=6),  # names no visit
    ]
    for order in itertools.permutations(ratings, len(ratings)):
        joined = join(reversed(served), order)
        total, _ = visit_rates(served, joined, None, {})
        assert total.out() == {"served": 5, "rated": 3, "unrated": 1, "not_asked": 1, "rating_rate": 0.6}
    _, by_line = visit_rates(served, joined, "line", {})
    assert {k: (f.served, f.rated, f.out()["rating_rate"]) for k, f in by_line.items()} == {
        "A": (2, 2, 1.0),
        "B": (3, 1, round(1 / 3, 4)),
    }
    _, zones = visit_rates(served, joined, "zone", {"W01": "east", "W02": "west"})
    assert {k: f.served for k, f in zones.items()} == {"east": 2, "west": 2, "": 1}  # W03 has no pad, so no zone
    lines = {k: (f.rated, f.unrated) for k, f in ratings_by_line(ratings, joined).items()}
    assert lines == {"A": (2, 0), "B": (1, 2), "": (1, 0)}
    # The join reads only what names a visit: the store's light rows name the same visits.
    refs = [RatingRef(r.key, int(r.rated), r.ts_ns, r.day, r.case_id, r.window, r.ticket) for r in ratings]
    assert join(served, refs) == joined
