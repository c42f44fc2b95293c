"""全厅 against the zones: the hall's figure (the doorways to the outside) and the sum of the zones'
figures differ only by what the floor at 0 added (each reason says how many people), and a zone
without counters or a counter in doubt is named. Pure: gateway/domain/occupancy_agreement.py."""

from __future__ import annotations

from gateway.domain.occupancy import HALL, Doorway, Occupancy, Sample, ZoneCount
from gateway.domain.occupancy_agreement import agreement, counters_of

S = 10**9


def demo_hall(*zones: str) -> Occupancy:
    """configs/demo-hall.yaml's doorways: outside -> consult (entrance), consult -> windows,
    consult -> self, outside -> windows (side exit)."""
    return Occupancy(
        zones={z: ZoneCount(z, 100) for z in ("consult", "windows", "self", *zones)},
        doorways={
            "pc-entrance": Doorway("consult", None, stale_ns=60 * S),
            "pc-windows": Doorway("windows", "consult", stale_ns=60 * S),
            "pc-self": Doorway("self", "consult", stale_ns=60 * S),
            "pc-side-exit": Doorway("windows", None, stale_ns=60 * S),
        },
        hall=ZoneCount(HALL, 300),
    )


def feed(occ: Occupancy, at_s: int, counts: dict[str, tuple[int, int]]) -> None:
    for name, (i, o) in counts.items():
        occ.sample(name, Sample(i, o), at_s * S)


def test_the_hall_and_the_zones_agree_when_the_counts_are_consistent() -> None:
    occ = demo_hall()
    zero = dict.fromkeys(occ.doorways, (0, 0))
    feed(occ, 0, zero)
    # 12 came in, 7 went on to the windows and 2 to self service, 3 left by the side exit.
    feed(occ, 10, {"pc-entrance": (12, 0), "pc-windows": (7, 0), "pc-self": (2, 0), "pc-side-exit": (0, 3)})
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, 10 * S)
    assert (a.hall, a.zones_sum, a.difference, a.reasons) == (9, 9, 0, [])
    assert counters_of(HALL, occ.doorways) == ["pc-entrance", "pc-side-exit"]
    assert counters_of("consult", occ.doorways) == ["pc-entrance", "pc-self", "pc-windows"]


def test_a_zone_whose_counters_saw_more_leave_than_enter_explains_the_difference() -> None:
    """The demo's case (全厅 2, zones 10): each simulated counter counts on its own, so the doors out
    of the consult zone see more people than its entrance let in; the floor at 0 adds them back to
    the consult zone, and the zones' sum runs over the hall by exactly that."""
    occ = demo_hall()
    feed(occ, 0, dict.fromkeys(occ.doorways, (0, 0)))
    feed(occ, 10, {"pc-entrance": (20, 18), "pc-windows": (9, 1), "pc-self": (5, 1), "pc-side-exit": (6, 6)})
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, 10 * S)
    assert (a.hall, a.zones_sum) == (2, 12)
    assert [(w.code, w.zone, w.people) for w in a.reasons] == [("clamped", "consult", 10)]
    assert a.reasons[0].counters == ("pc-entrance", "pc-self", "pc-windows")
    assert a.unexplained == 0


def test_the_hall_floor_counts_against_the_zones() -> None:
    occ = demo_hall()
    feed(occ, 0, dict.fromkeys(occ.doorways, (0, 0)))
    feed(occ, 10, {"pc-entrance": (0, 0), "pc-windows": (0, 0), "pc-self": (0, 0), "pc-side-exit": (0, 4)})
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, 10 * S)
    assert (a.hall, a.zones_sum) == (0, 0)
    # The windows zone and the hall both floored the same 4: together they explain a difference of 0.
    assert sorted((w.code, w.people) for w in a.reasons) == [("clamped", 4), ("hall_clamped", -4)]
    assert a.unexplained == 0


def test_zones_reset_apart_from_the_hall_are_named_with_the_rest_of_the_difference() -> None:
    occ = demo_hall()
    feed(occ, 0, dict.fromkeys(occ.doorways, (0, 0)))
    feed(occ, 10, {"pc-entrance": (5, 0), "pc-windows": (0, 0), "pc-self": (0, 0), "pc-side-exit": (0, 0)})
    occ.hall.reset(11 * S)  # the hall reset at its own time, the zones not (yet)
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, 11 * S)
    assert (a.hall, a.zones_sum) == (0, 5)
    assert [(w.code, w.zone, w.people) for w in a.reasons] == [("reset_apart", "consult,windows,self", 5)]
    assert a.unexplained == 0


def test_a_zone_without_counters_and_a_silent_counter_are_reasons() -> None:
    occ = demo_hall("lounge")
    feed(occ, 0, dict.fromkeys(occ.doorways, (0, 0)))
    feed(occ, 10, {"pc-entrance": (3, 0), "pc-windows": (0, 0), "pc-self": (0, 0)})  # the side exit is silent
    assert agreement(list(occ.zones.values()), occ.hall, occ.doorways, 10 * S).reasons[1:] == []  # watched from here
    feed(occ, 95, {"pc-entrance": (3, 0), "pc-windows": (0, 0), "pc-self": (0, 0)})
    a = agreement(list(occ.zones.values()), occ.hall, occ.doorways, 100 * S)
    assert a.difference == 0
    assert [(w.code, w.zone, w.counters, w.detail) for w in a.reasons] == [
        ("no_counter", "lounge", (), ""),
        ("counter_suspect", "windows,*", ("pc-side-exit",), "no samples"),
    ]
