"""The hall of tests/test_report_figures.py: its configuration, what its devices send on one day
(queue events from the simulator's day plan, punches, counter readings, ratings), and what goes
into its state database beside them (health transitions, alerts, pickup items); `seeded` puts it
through the kinds' own projections into a real state database and builds its reports. `opened`
is that state database and those projections for any hall (tests/test_reports_month.py's month)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from firmware_sim.kinds.queue_day import DEFAULT_LINES, DayConfig, default_serves, plan_day
from gateway.alerts.lifecycle import Alert
from gateway.config.hall import HallConfig
from gateway.devices import load_hall
from gateway.domain.canonical import READING, Event
from gateway.domain.periods import parse
from gateway.features.reports import sources
from gateway.features.reports.build import build
from gateway.features.reports.model import Report
from gateway.kinds.base import AfterBatch, KeepsRecords
from gateway.kinds.lookup import Projections
from gateway.kinds.registry import KINDS, stores
from gateway.store.journal import Journal

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 2)  # a Wednesday
NOW = int(datetime(2026, 12, 7, 8, tzinfo=TZ).timestamp()) * 10**9
H = 3600 * 10**9
WINDOWS = ("W01", "W02", "W03")
COUNTERS = {"pc-e": "east", "pc-w": "west"}


def at(hour: float, day: date = DAY) -> int:
    return round((datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)).timestamp()) * 10**9


HALL = """
site: fig-hall
name: 指标大厅
timezone: Asia/Shanghai
store: {{path: {tmp}/outbox.sqlite}}
working_hours: {{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}}
attendance: {{lunch: null}}
zones: [{{id: east, name: 东区, capacity: 200}}, {{id: west, name: 西区, capacity: 200}}]
posts: [{{window: W01, a: S0001, b: S0002}}, {{window: W02, a: S0003}}]
devices:
  - {{id: q-1, kind: queue, profile: ref-queue}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01, zone: east}}
  - {{id: pc-e, kind: people_counter, profile: ref-people-counter, zone: east,
     modbus: {{host: 127.0.0.1, port: 1502, unit: 1}}}}
  - {{id: pc-w, kind: people_counter, profile: ref-people-counter, zone: west,
     modbus: {{host: 127.0.0.1, port: 1502, unit: 2}}}}
  - {{id: lk-1, kind: pickup_locker, profile: ref-pickup-locker, zone: west,
     modbus: {{host: 127.0.0.1, port: 1502, unit: 3}}}}
"""
# the punches: S0001 (W01's A) leaves at noon, S0002 (its B) comes at 11:30 and covers from noon;
# S0003 (W02) 10:00-16:00
PUNCHES = [
    ("S0001", 8.9, "in"),
    ("S0001", 12.0, "out"),
    ("S0002", 11.5, "in"),
    ("S0002", 17.2, "out"),
    ("S0003", 10.0, "in"),
    ("S0003", 16.0, "out"),
]
# (device, health, hour): the health transitions; lk-1 from the day before, pc-w never seen
HEALTH = [
    ("q-1", "ok", 8.0),
    ("att-1", "ok", 8.0),
    ("att-1", "offline", 10.0),
    ("att-1", "ok", 10.5),
    ("rp-1", "ok", -4.0),
    ("rp-1", "degraded", 12.0),
    ("pc-e", "ok", 7.5),
    ("pc-e", "offline", 15.0),
    ("lk-1", "ok", -20.0),
    ("lk-1", "offline", 16.0),
]
# (rule, device, opened hour, ended hour or None)
ALERTS = [
    ("device_offline", "att-1", 10.0, 10.5),
    ("jammed_lock", "lk-1", 11.0, 11 + 1 / 3),
    ("device_offline", "lk-1", 16.0, None),
    ("device_offline", "pc-e", 15.0, 30.0),
    ("queue_long_wait", "q-1", 11.0, 11.5),
    ("device_offline", "rp-1", -3.0, 8.0),
]
# (deposited hour, expires hour, collected hour or None), relative to DAY's midnight
ITEMS = [
    (9 + 1 / 6, 80.0, 15 + 1 / 6),
    (10.0, 80.0, 30.0),
    (-72.0, 12.0, None),
    (-38.0, 60.0, 11.0),
    (11.0, 13.0, 14.0),
]


@dataclass
class Sent:
    queue: list[Event]
    readings: list[tuple[str, int, int, int]]  # (counter, ts_ns, in_total, out_total)
    month: Report | None = None


def queue_events() -> list[Event]:
    cfg = DayConfig(
        DAY,
        WINDOWS,
        default_serves(WINDOWS, DEFAULT_LINES),
        tickets=90,
        seed="figures",
        appointment_share=0.25,
        transfer_share=0.1,
    )
    return [
        Event(
            "q-1",
            e.fields["type"],
            at(0) + round(e.t * 1000) * 10**6,
            {k: v for k, v in e.fields.items() if k != "type"},
            n,
        )
        for n, e in enumerate(plan_day(cfg).events)
    ]


def counter_readings() -> list[tuple[str, int, int, int]]:
    """Every five minutes from 08:00 to 18:00 both counters, in then out totals (never more out than in)."""
    rng = random.Random(24)
    totals = {c: [0, 0] for c in COUNTERS}
    out = []
    for step in range(121):
        for n, c in enumerate(COUNTERS):
            t = totals[c]
            if step:
                t[0] += rng.randint(0, 9)
                t[1] += rng.randint(0, t[0] - t[1])
            out.append((c, at(8) + step * 300 * 10**9 + n * 10**9, t[0], t[1]))
    return out


@dataclass
class Opened:
    """A hall's state database with its kinds' own projections attached, as the gateway builds them."""

    cfg: HallConfig
    journal: Journal
    projections: list[Any]

    def project(self, events: list[Event]) -> None:
        """The events in time order through every projection, each a batch of one as the hub would end it."""
        for e in sorted(events, key=lambda e: e.ts_ns):
            for p in self.projections:
                p.apply(e, e.ts_ns)
                if isinstance(p, AfterBatch):
                    p.after_batch(e.ts_ns)


@contextmanager
def opened(tmp: Path, hall: str = HALL) -> Iterator[Opened]:
    """The hall of `hall` (a configuration with {tmp} for its directory) in a state database under `tmp`."""
    (tmp / "hall.yaml").write_text(hall.format(tmp=tmp))
    cfg, devices = load_hall(tmp / "hall.yaml", require_secrets=False)
    journal = Journal(cfg.store.state_file, stores=stores())
    factories = dict.fromkeys(f for k in dict.fromkeys(d.kind for d in devices.values()) for f in KINDS[k].projections)
    projections = [f(cfg, devices) for f in factories]
    closes = [p.attach(journal) for p in projections if isinstance(p, KeepsRecords)]
    yield Opened(cfg, journal, projections)
    for close in closes:
        close()
    journal.close()


@contextmanager
def seeded(tmp: Path) -> Iterator[tuple[Report, Sent]]:
    """The hall's day in a state database under `tmp`, and its day's report (and December's,
    ranking by 空岗 alone, in `sent.month`)."""
    with opened(tmp) as hall:
        yield from _day(hall)


def _day(hall: Opened) -> Iterator[tuple[Report, Sent]]:
    cfg, journal, projections = hall.cfg, hall.journal, hall.projections
    sent = Sent(queue_events(), counter_readings())
    events = list(sent.queue)
    events += [
        Event("att-1", "punch", at(h), {"staff_id": s, "method": "face", "direction": d}, n)
        for n, (s, h, d) in enumerate(PUNCHES)
    ]
    events += [Event(c, READING, ts, {"in_total": i, "out_total": o, "sensor": "ok"}) for c, ts, i, o in sent.readings]
    events += [
        Event(
            "rp-1",
            "rated",
            at(14 + n / 10),
            {"score": 1 + n % 2, "case_id": f"X-{n}", "window": "W01", "staff_id": "S0001", "reasons": "态度"},
            100 + n,
        )
        for n in range(3)
    ]
    hall.project(events)
    found = Projections(projections)
    src = sources(found, journal, cfg)
    ratings = src.ratings
    assert ratings is not None
    orders = ratings.orders_rated(at(0), at(24))
    assert len(orders) == 3
    for o, said in zip(orders, ("satisfied", "dissatisfied", None), strict=True):
        if said:
            found.of(type(ratings)).act(o.id, "callback", "测试", "已电话回访", at(40), said)  # type: ignore[union-attr]
    journal.add_transitions([(d, at(h), health, "") for d, health, h in HEALTH])
    journal.save_alerts(
        [
            Alert(
                n,
                rule,
                f"{rule}:{d}",
                "warning",
                rule,
                d,
                "open" if end is None else "resolved",
                at(a),
                at(end or a),
                ended_ns=None if end is None else at(end),
            )
            for n, (rule, d, a, end) in enumerate(ALERTS, 1)
        ],
        [],
    )
    for n, (dep, exp, got) in enumerate(ITEMS):
        row = {
            "locker": "lk-1",
            "door": n,
            "item": f"证照{n}",
            "applicant": "138",
            "code_hash": bytes([n]) * 32,
            "deposited_by": "S0003",
            "deposited_ns": at(dep),
            "expires_ns": at(exp),
        }
        rid = journal.repos.pickup.add_pickup_item(row)
        if got is not None:
            journal.repos.pickup.set_pickup_state(rid, "collected", at(got))
    # the counters' finished minutes saved as the gateway's saver does; the last minute still open
    occupancy = next(p for p in projections if p.name == "occupancy")
    journal.save_occupancy_minutes(
        [(b.zone, b.start_ns, b.entered, b.left, b.occupancy, b.clamped) for b in occupancy.take_history()], 30 * 24 * H
    )
    report = build(cfg, src, parse("day", DAY.isoformat()), NOW, "测试")
    # the month's 一月一评比 weighing 空岗 alone
    weighed = cfg.model_copy(
        update={
            "reports": cfg.reports.model_copy(
                update={
                    "ranking": cfg.reports.ranking.model_copy(
                        update={"weights": {"empty_minutes": 1.0}, "red_flags": 1}
                    )
                }
            )
        }
    )
    sent.month = build(weighed, src, parse("month", "2026-12"), NOW, "测试")
    yield report, sent
