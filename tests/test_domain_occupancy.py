from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.occupancy import WRAP, Doorway, Occupancy, Sample, ZoneCount, count_delta


def hall() -> Occupancy:
    return Occupancy(
        zones={"consult": ZoneCount("consult", 60), "windows": ZoneCount("windows", 150)},
        doorways={"door": Doorway("consult", None), "inner": Doorway("windows", "consult")},
    )


def test_first_sample_is_only_a_baseline() -> None:
    occ = hall()
    assert occ.sample("door", Sample(1000, 900, 50), 1) == (0, 0)
    assert occ.zones["consult"].occupancy == 0


def test_people_move_between_zones() -> None:
    occ = hall()
    occ.sample("door", Sample(0, 0, 1), 1)
    occ.sample("inner", Sample(0, 0, 1), 1)
    occ.sample("door", Sample(10, 2, 2), 2)  # 10 in, 2 out of the hall
    occ.sample("inner", Sample(5, 1, 2), 2)  # 5 from consult to windows, 1 back
    assert occ.zones["consult"].occupancy == 10 - 2 - 5 + 1
    assert occ.zones["windows"].occupancy == 4


def test_counter_wrap_is_not_a_reboot() -> None:
    occ = hall()
    occ.sample("door", Sample(WRAP - 3, 0, 100), 1)
    assert occ.sample("door", Sample(4, 0, 101), 2) == (7, 0)


def test_reboot_counts_only_what_came_since() -> None:
    occ = hall()
    occ.sample("door", Sample(5000, 4000, 9000), 1)
    assert occ.sample("door", Sample(3, 1, 12), 2) == (3, 1)  # uptime dropped: a reboot


def test_occupancy_never_negative() -> None:
    occ = hall()
    occ.sample("door", Sample(0, 0, 1), 1)
    occ.sample("door", Sample(1, 9, 2), 2)
    assert occ.zones["consult"].occupancy == 0


@given(st.integers(0, WRAP - 1), st.integers(0, 10**6))
def test_delta_recovers_any_increment_across_the_wrap(start: int, step: int) -> None:
    assert count_delta(start, (start + step) % WRAP, rebooted=False) == step


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=200))
def test_entries_and_exits_add_up(steps: list[tuple[int, int]]) -> None:
    occ = hall()
    total_in = total_out = 0
    occ.sample("door", Sample(WRAP - 100, WRAP - 100, 1), 0)
    for i, (a, b) in enumerate(steps, start=1):
        total_in, total_out = total_in + a, total_out + b
        occ.sample("door", Sample((WRAP - 100 + total_in) % WRAP, (WRAP - 100 + total_out) % WRAP, 1 + i), i)
    z = occ.zones["consult"]
    assert (z.entered, z.left) == (total_in, total_out)
    assert z.occupancy >= max(0, total_in - total_out)
