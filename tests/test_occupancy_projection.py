"""The occupancy projection: its derived points are deterministic (a replay overwrites itself),
its state survives a restart, and its conditions say what holds."""

from __future__ import annotations

import json

from gateway.config.hall import HallConfig
from gateway.devices import build_registry
from gateway.domain.canonical import READING, Event
from gateway.domain.occupancy import MINUTE_NS
from gateway.kinds.people_counter import OccupancyProjection
from gateway.paths import PROFILES_DIR

T0 = 1_764_000_000 * 10**9  # a whole minute


def _projection() -> OccupancyProjection:
    cfg = HallConfig.model_validate(
        {
            "site": "s1",
            "timezone": "UTC",
            "zones": [{"id": "consult", "capacity": 10}, {"id": "windows", "capacity": 20}],
            "occupancy": {"reset_at": None},
            "profiles_dirs": [PROFILES_DIR],
            "devices": [
                {
                    "id": "door",
                    "kind": "people_counter",
                    "profile": "ref-people-counter",
                    "zone": "consult",
                    "modbus": {"host": "127.0.0.1"},
                },
                {
                    "id": "inner",
                    "kind": "people_counter",
                    "profile": "ref-people-counter",
                    "zone": "windows",
                    "from_zone": "consult",
                    "modbus": {"host": "127.0.0.1", "port": 503},
                },
            ],
        }
    )
    devices, problems = build_registry(cfg)
    assert not problems
    return OccupancyProjection(cfg, devices)


def _reading(device: str, ts_ns: int, cin: int, cout: int, sensor: str = "ok") -> Event:
    fields = {"in_total": cin, "out_total": cout, "uptime_s": 100 + ts_ns // 10**9 - T0 // 10**9, "sensor": sensor}
    return Event(device, READING, ts_ns, fields)


def _run(p: OccupancyProjection, events: list[Event]) -> list[str]:
    lines: list[str] = []
    for e in events:
        lines += [line for _, line in p.apply(e, e.ts_ns) or []]
    return lines


EVENTS = [
    _reading("door", T0 + 1 * 10**9, 0, 0),
    _reading("inner", T0 + 1 * 10**9, 0, 0),
    _reading("door", T0 + 20 * 10**9, 7, 1),
    _reading("inner", T0 + 30 * 10**9, 2, 0),
    _reading("door", T0 + 61 * 10**9, 9, 1),  # the first minute is over
    _reading("door", T0 + 125 * 10**9, 9, 3),
]


def test_one_point_per_zone_per_minute_timestamped_by_the_minute() -> None:
    lines = _run(_projection(), EVENTS)
    assert lines == [
        f"occupancy,site=s1,zone=consult in=7i,out=3i,occupancy=4i,clamped=0i {T0}",
        f"occupancy,site=s1,zone=windows in=2i,out=0i,occupancy=2i,clamped=0i {T0}",
        f"occupancy,site=s1,zone=* in=7i,out=1i,occupancy=6i,clamped=0i {T0}",
        # windows saw no sample in the second minute: no point for it
        f"occupancy,site=s1,zone=consult in=2i,out=0i,occupancy=6i,clamped=0i {T0 + MINUTE_NS}",
        f"occupancy,site=s1,zone=* in=2i,out=0i,occupancy=8i,clamped=0i {T0 + MINUTE_NS}",
    ]
    assert _run(_projection(), EVENTS) == lines  # a replay writes the same points


def test_a_reading_without_its_totals_adds_no_sample() -> None:
    """A counter's "no reading" (a profile's `absent: [0xFFFF]`) leaves `in_total` out of the
    reading: the projection raised KeyError on it; now it adds no sample, and the next full
    reading carries the counts on as if the blank poll had not happened."""
    blank = Event("door", READING, T0 + 40 * 10**9, {"out_total": 1, "sensor": "ok"})
    p = _projection()
    assert _run(p, [*EVENTS[:4], blank, *EVENTS[4:]]) == _run(_projection(), EVENTS)


def test_state_survives_a_restart_through_json() -> None:
    p = _projection()
    _run(p, EVENTS[:4])
    q = _projection()
    q.restore(json.loads(json.dumps(p.state())))
    assert _run(q, EVENTS[4:]) == _run(p, EVENTS[4:])
    assert q.state() == p.state()


def test_conditions_over_capacity_and_suspect() -> None:
    p = _projection()
    _run(p, [_reading("door", T0, 0, 0), _reading("inner", T0, 0, 0), _reading("door", T0 + 10**9, 12, 0)])
    conds = {(c.rule, c.key): c for c in p.conditions(T0 + 2 * 10**9)}
    assert set(conds) == {("zone_over_capacity", "consult")}
    assert conds["zone_over_capacity", "consult"].summary == "zone consult over capacity: 12 of 10"
    _run(p, [_reading("inner", T0 + 3 * 10**9, 0, 0, sensor="too_dark")])
    conds = {(c.rule, c.key): c for c in p.conditions(T0 + 3 * 10**9)}
    assert conds["occupancy_suspect", "windows"].summary == "zone windows: counts suspect (inner: too_dark)"
    assert ("occupancy_suspect", "consult") in conds and ("occupancy_suspect", "*") not in conds
    # Silent longer than stale_after_s (10 s): every zone it borders is suspect.
    conds = {(c.rule, c.key) for c in p.conditions(T0 + 30 * 10**9)}
    assert ("occupancy_suspect", "*") in conds


def test_a_counter_not_yet_polled_since_start_is_not_suspect_until_stale() -> None:
    """Just started (or restored after a stop of any length), nothing is suspect for the first
    stale_after_s: the first polls have not answered yet. Silence after that is."""
    p = _projection()
    assert {c.rule for c in p.conditions(T0)} == set()
    assert {c.rule for c in p.conditions(T0 + 9 * 10**9)} == set()
    assert "occupancy_suspect" in {c.rule for c in p.conditions(T0 + 11 * 10**9)}
    _run(p, [_reading("door", T0, 0, 0), _reading("inner", T0, 0, 0)])
    q = _projection()
    q.restore(json.loads(json.dumps(p.state())))
    later = T0 + 3600 * 10**9  # an hour's stop
    assert {c.rule for c in q.conditions(later)} == set()
    assert "occupancy_suspect" in {c.rule for c in q.conditions(later + 11 * 10**9)}
