from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.occupancy import (
    MINUTE_NS,
    WRAP,
    Doorway,
    Occupancy,
    Sample,
    ZoneCount,
    count_delta,
    last_due,
    reset_due,
)


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


# -- drift, resets, hysteresis; properties over wraps, reboots, missed polls and resets ----------


def test_drift_is_kept_when_occupancy_is_floored() -> None:
    occ = hall()
    occ.sample("door", Sample(0, 0, 1), 1)
    occ.sample("door", Sample(246, 244, 2), 2)
    occ.sample("door", Sample(246, 250, 3), 3)  # six more out than ever came in
    z = occ.zones["consult"]
    assert (z.occupancy, z.net, z.clamped) == (0, -4, 4)
    occ.sample("door", Sample(250, 250, 4), 4)
    assert z.occupancy == 4 and z.occupancy == z.net + z.clamped


def test_a_reset_register_write_is_not_read_as_a_wrap() -> None:
    # The counts fall to 0 while the uptime goes on: a wrap would be four billion people.
    occ = hall()
    occ.sample("door", Sample(5000, 4000, 100), 1)
    assert occ.sample("door", Sample(2, 1, 101), 2) == (2, 1)


def test_a_jump_far_from_zero_only_moves_the_baseline() -> None:
    occ = hall()
    occ.sample("door", Sample(10, 10, 100), 1)
    assert occ.sample("door", Sample(WRAP - 3, WRAP - 3, 101), 2) == (0, 0)
    assert occ.sample("door", Sample(4, 4, 102), 3) == (7, 7)


def test_nightly_reset_records_the_residual_and_starts_from_zero() -> None:
    occ = hall()
    occ.sample("door", Sample(0, 0, 1), 1)
    occ.sample("door", Sample(100, 93, 2), 2)
    z = occ.zones["consult"]
    tz = "Asia/Shanghai"
    day = 1_764_000_000 * 10**9  # 2025-11-25 00:00 +08:00 .. thereabouts
    assert reset_due(z, day, time(3, 0), tz) is None  # never reset before: starts from now
    due = reset_due(z, day + 86400 * 10**9, time(3, 0), tz)
    assert due is not None
    r = z.reset(due)
    assert (r.residual, z.residual, z.occupancy, z.entered, z.left) == (7, 7, 0, 0, 0)
    assert reset_due(z, due + 10**9, time(3, 0), tz) is None  # once a night
    assert datetime.fromtimestamp(due / 1e9, ZoneInfo(tz)).time() == time(3, 0)


@given(st.integers(0, 2**62), st.times(), st.sampled_from(["Asia/Shanghai", "UTC", "Asia/Kolkata"]))
def test_last_due_is_the_latest_scheduled_instant(now_ns: int, at: time, tz: str) -> None:
    at = at.replace(microsecond=0)
    due = last_due(now_ns, at, tz)
    assert due <= now_ns < due + 86400 * 10**9
    assert datetime.fromtimestamp(due / 1e9, ZoneInfo(tz)).time() == at


@given(st.lists(st.integers(0, 300), max_size=100))
def test_over_capacity_has_hysteresis(levels: list[int]) -> None:
    z = ZoneCount("consult", 100)
    for level in levels:
        was = z.over
        z.occupancy = level
        over = z.check_capacity(100, 90)
        assert over == (level >= 100 or (was and level >= 90))


# One counter on the hall's outer door. Ops: people walk (in, out), the gateway polls (or
# misses the poll: walks pile up), the counter reboots, the zone is reset at night.
Op = st.one_of(
    st.tuples(st.just("walk"), st.integers(0, 40), st.integers(0, 40)),
    st.just(("poll",)),
    st.just(("reboot",)),
    st.just(("reset",)),
)


@settings(max_examples=300)
@given(st.integers(0, WRAP - 1), st.integers(0, WRAP - 1), st.lists(Op, max_size=120))
def test_counts_hold_over_wraps_reboots_missed_polls_and_resets(start_in: int, start_out: int, ops: list) -> None:
    occ = hall()
    counts = [start_in, start_out]
    uptime, polled_uptime = 10**6, None
    walked = [0, 0]  # since the last poll
    since_boot = [0, 0]
    rebooted = False
    lo = [0, 0]  # what the zone counted since its reset, each way, as the polls returned it
    for t, op in enumerate(ops, start=1):
        uptime += 1
        if op[0] == "walk":
            for i in (0, 1):
                counts[i] = (counts[i] + op[1 + i]) % WRAP
                walked[i] += op[1 + i]
                since_boot[i] += op[1 + i]
        elif op[0] == "reboot":
            counts, uptime, since_boot, rebooted = [0, 0], 0, [0, 0], True
        elif op[0] == "reset":
            occ.zones["consult"].reset(t)
            lo = [0, 0]
        else:
            got = occ.sample("door", Sample(counts[0], counts[1], uptime), t)
            if polled_uptime is None:
                assert got == (0, 0)
            elif not rebooted:
                assert list(got) == walked  # missed polls and wraps lose nobody
            elif uptime < polled_uptime:
                assert list(got) == since_boot  # a seen reboot: exactly what came since
            else:
                # The uptime grew past the last poll's again: at most what came since the reboot.
                assert all(0 <= g <= s for g, s in zip(got, since_boot, strict=True))
            lo = [lo[0] + got[0], lo[1] + got[1]]
            polled_uptime, walked, since_boot, rebooted = uptime, [0, 0], [0, 0], False
        z = occ.zones["consult"]
        assert z.occupancy >= 0 and z.clamped >= 0
        assert z.occupancy == z.entered - z.left + z.clamped
        assert (z.entered, z.left) == tuple(lo)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 200)), max_size=80))
def test_minute_buckets_add_up_to_the_zone_flow(steps: list[tuple[int, int, int]]) -> None:
    occ = hall()
    occ.sample("door", Sample(0, 0, 1), 0)
    total = [0, 0]
    ts = 0
    for a, b, dt_s in steps:
        ts += dt_s * 10**9
        total = [total[0] + a, total[1] + b]
        occ.sample("door", Sample(*total, 2 + ts // 10**9), ts)
    buckets = [b for b in [*occ.take_closed(), occ.zones["consult"].bucket] if b is not None and b.zone == "consult"]
    assert sum(b.entered for b in buckets) == total[0] and sum(b.left for b in buckets) == total[1]
    starts = [b.start_ns for b in buckets]
    assert starts == sorted(set(starts)) and all(s % MINUTE_NS == 0 for s in starts)
