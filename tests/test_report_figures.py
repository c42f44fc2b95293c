"""The report's figures of the hall as a place (issue 24): walk-in vs appointment tickets, 办件量
by result, window posts (开放量, 空岗, AB 顶岗), visitors (entries, peak occupancy and its hour),
devices (availability per kind, incidents, MTTR), pickup lockers (deposits, pickups, time to
pickup, overdue) and 回访满意度, per hall, window and zone, and the day's trend.

One day of a hall goes through the kinds' own projections into a real state database (queue
events, punches, counter readings, ratings and their work orders' call-backs); the health
transitions, alerts and pickup items go in through the gateway's repositories. The report is
built from it as the gateway builds it; every figure is compared with one this test works out
itself from what it sent, minute by minute or item by item, with none of the product's code.
The same report's JSON, XLSX and PDF then carry the same figures.
"""

from __future__ import annotations

import io
import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from firmware_sim.kinds.queue_day import DEFAULT_LINES, DayConfig, default_serves, plan_day
from gateway.alerts.lifecycle import Alert
from gateway.devices import load_hall
from gateway.domain.canonical import READING, Event
from gateway.domain.periods import parse
from gateway.features.reports import sources
from gateway.features.reports.build import build
from gateway.features.reports.model import Missing, Report
from gateway.features.reports.render import as_json, as_pdf, as_xlsx
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
KIND_OF = {"q-1": "排队叫号", "att-1": "考勤机", "rp-1": "评价器", "pc-e": "客流计数器", "pc-w": "客流计数器"}


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


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Report, Sent]]:
    tmp = tmp_path_factory.mktemp("figures")
    (tmp / "hall.yaml").write_text(HALL.format(tmp=tmp))
    cfg, devices = load_hall(tmp / "hall.yaml", require_secrets=False)
    journal = Journal(cfg.store.state_file, stores=stores())
    factories = dict.fromkeys(f for k in dict.fromkeys(d.kind for d in devices.values()) for f in KINDS[k].projections)
    projections = [f(cfg, devices) for f in factories]
    closes = [p.attach(journal) for p in projections if isinstance(p, KeepsRecords)]
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
    for e in sorted(events, key=lambda e: e.ts_ns):
        for p in projections:
            p.apply(e, e.ts_ns)
            if isinstance(p, AfterBatch):  # a batch of one, as the hub would end it
                p.after_batch(e.ts_ns)
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
    for close in closes:
        close()
    journal.close()


# -- what the test works out from what it sent --------------------------------------------------------


def queue_expected(events: list[Event]) -> dict[str, Any]:
    issued = [e for e in events if e.name == "issued"]
    finished = [e for e in events if e.name == "finished"]
    return {
        "calls.appointments": sum(e.fields["source"] == "appointment" for e in issued),
        "calls.walk_in": sum(e.fields["source"] == "walk_in" for e in issued),
        "calls.transfers": sum(e.name == "transferred" for e in events),
        **{
            f"calls.cases_{r}": sum(e.fields["result"] == r for e in finished)
            for r in ("done", "pending_materials", "rejected")
        },
    }


def posts_expected() -> dict[str, dict[str, float]]:
    """Minute by minute over the working hours: who of a post's A and B is in."""

    def inside(staff: str, minute: float) -> bool:
        spells = [h for s, h, _ in PUNCHES if s == staff]
        return any(a <= minute < b for a, b in zip(spells[::2], spells[1::2], strict=True))

    out = {}
    for window, a, b in (("W01", "S0001", "S0002"), ("W02", "S0003", None)):
        open_m = covered_m = 0
        for m in range(9 * 60, 17 * 60):
            h = m / 60
            a_in, b_in = inside(a, h), b is not None and inside(b, h)
            open_m += a_in or b_in
            covered_m += b_in and not a_in
        out[window] = {
            "posts.open_hours": open_m / 60,
            "posts.empty_minutes": 8 * 60 - open_m,
            "posts.substitutions": int(covered_m > 0),
            "posts.covered_hours": covered_m / 60,
        }
    return out


def visitors_expected(readings: list[tuple[str, int, int, int]]) -> dict[str, dict[str, Any]]:
    """Per zone and the hall ("*"): entries (the in totals' growth), the highest in-minus-out after
    a minute's samples, and the hour of the first minute that reached it."""
    per: dict[str, dict[int, tuple[int, int]]] = {z: {} for z in (*COUNTERS.values(), "*")}
    for c, ts, i, o in readings:
        per[COUNTERS[c]][ts // (60 * 10**9)] = (i, o)
    for minute in per["east"]:
        per["*"][minute] = tuple(map(sum, zip(per["east"][minute], per["west"][minute], strict=True)))  # type: ignore[assignment]
    out = {}
    for zone, minutes in per.items():
        best = max(i - o for i, o in minutes.values())
        first = min(m for m, (i, o) in minutes.items() if i - o == best)
        hour = datetime.fromtimestamp(first * 60, TZ).strftime("%Y-%m-%d %H时")
        last_in = minutes[max(minutes)][0]
        out[zone] = {
            "visitors.entries": last_in,
            "visitors.daily_entries": float(last_in),
            "visitors.peak": best,
            "visitors.peak_hour": hour,
        }
    return out


def devices_expected(devices: list[str]) -> dict[str, Any]:
    """Seconds online over seconds watched in the day, from the transitions as listed."""
    start, end = at(0), at(24)
    watched = online = 0
    for d in devices:
        marks = sorted((at(h), health) for dev, health, h in HEALTH if dev == d)
        for n, (t, health) in enumerate(marks):
            until = marks[n + 1][0] if n + 1 < len(marks) else end
            span = max(0, min(until, end) - max(t, start))
            watched += span
            online += span if health != "offline" else 0
    mine = [(r, a, e) for r, d, a, e in ALERTS if d in devices and r != "queue_long_wait" and 0 <= a < 24]
    repaired = [(e - a) * 60 for _, a, e in mine if e is not None and e <= 24]
    return {
        "devices.availability": round(online / watched, 4) if watched else None,
        "devices.incidents": len(mine),
        "devices.mttr": sum(repaired) / len(repaired) if repaired else None,
    }


def lockers_expected() -> dict[str, Any]:
    picked = [(d, g) for d, _, g in ITEMS if g is not None and 0 <= g < 24]
    return {
        "lockers.deposits": sum(0 <= d < 24 for d, _, _ in ITEMS),
        "lockers.pickups": len(picked),
        "lockers.pickup_hours": sum(g - d for d, g in picked) / len(picked),
        "lockers.overdue": sum(0 <= e < 24 and (g is None or g > e) for _, e, g in ITEMS),
    }


def pdf_text(value: Any, fmt: str) -> str:
    """How the PDF writes a value (the digits the API gives, one decimal, a ratio in per cent)."""
    if fmt == "text" or isinstance(value, str):
        return str(value)
    return {"int": f"{value}", "percent": f"{value * 100:.1f} %"}.get(fmt) or f"{value:.1f}"


def same(got: Any, want: Any, name: str) -> None:
    if isinstance(want, float):
        assert got == pytest.approx(want, abs=0.006), name
    else:
        assert got == want, name


def figures(report: Report) -> dict[str, Any]:
    return {f.name: f.value for s in report.sections for f in s.figures}


def table(report: Report, key: str) -> dict[str, dict[str, Any]]:
    t = next(t for s in report.sections for t in s.tables if t.key == key)
    return {str(r[0]): {c.key: v for c, v in zip(t.columns, r, strict=True)} for r in t.rows}


# -- the tests ------------------------------------------------------------------------------------------


def test_the_queue_counts_walk_ins_appointments_and_cases_by_result_as_the_events_say(
    hall: tuple[Report, Sent],
) -> None:
    report, sent = hall
    want = queue_expected(sent.queue)
    assert want["calls.appointments"] and want["calls.cases_pending_materials"] + want["calls.cases_rejected"]
    assert want["calls.transfers"]
    got = figures(report)
    for name, value in want.items():
        same(got[name], value, name)
    windows = table(report, "windows")
    for w in WINDOWS:  # each window's tickets by source, from the first transaction's window
        first = {e.fields["ticket"]: e for e in sent.queue if e.name == "issued"}
        called = {}
        for e in sent.queue:
            if e.name == "called" and e.fields["ticket"] not in called:
                called[e.fields["ticket"]] = e.fields["window"]
        mine = [t for t, wd in called.items() if wd == w]
        assert windows[w]["calls.appointments"] == sum(first[t].fields["source"] == "appointment" for t in mine), w


def test_window_posts_are_open_empty_and_covered_as_the_punches_say_minute_by_minute(
    hall: tuple[Report, Sent],
) -> None:
    report, _ = hall
    want = posts_expected()
    assert want["W01"]["posts.substitutions"] == 1 and want["W02"]["posts.substitutions"] == 0
    windows = table(report, "windows")
    got = figures(report)
    for window, values in want.items():
        for name, value in values.items():
            if name in windows[window]:
                same(windows[window][name], value, f"{window} {name}")
    for name in want["W01"]:
        same(got[name], sum(v[name] for v in want.values()), name)
    assert isinstance(windows["W03"]["posts.open_hours"], Missing)  # no post configured: said, not 0


def test_visitors_entries_and_peak_per_zone_and_hall_from_the_counter_readings(hall: tuple[Report, Sent]) -> None:
    report, sent = hall
    want = visitors_expected(sent.readings)
    got = figures(report)
    for name, value in want["*"].items():
        same(got[name], value, name)
    zones = table(report, "zones")
    for zone in ("east", "west"):
        for name, value in want[zone].items():
            same(zones[zone][name], value, f"{zone} {name}")
    assert zones["east"]["name"] == "东区"


def test_devices_availability_incidents_and_mttr_per_hall_kind_and_zone(hall: tuple[Report, Sent]) -> None:
    report, _ = hall
    everything = ["q-1", "att-1", "rp-1", "pc-e", "pc-w", "lk-1"]
    want = devices_expected(everything)
    got = figures(report)
    for name, value in want.items():
        same(got[name], value, name)
    kinds = table(report, "devices_by_kind")
    people = devices_expected(["pc-e", "pc-w"])
    same(kinds["客流计数器"]["devices.availability"], people["devices.availability"], "counters")
    assert kinds["客流计数器"]["count"] == 2
    zones = table(report, "zones")
    for zone, devices in (("east", ["rp-1", "pc-e"]), ("west", ["pc-w", "lk-1"])):
        w = devices_expected(devices)
        same(zones[zone]["devices.availability"], w["devices.availability"], zone)
        same(zones[zone]["devices.incidents"], w["devices.incidents"], zone)


def test_lockers_deposits_pickups_time_to_pickup_and_overdue_items(hall: tuple[Report, Sent]) -> None:
    report, _ = hall
    got = figures(report)
    for name, value in lockers_expected().items():
        same(got[name], value, name)


def test_callback_satisfaction_is_satisfied_callbacks_over_callbacks_that_said(hall: tuple[Report, Sent]) -> None:
    report, _ = hall
    assert figures(report)["orders.satisfaction"] == 0.5  # one satisfied, one not; the third not called back


def test_the_trend_has_the_days_figures_and_a_line_chart(hall: tuple[Report, Sent]) -> None:
    report, sent = hall
    trend = next(s for s in report.sections if s.key == "trend")
    day = table(report, "trend")[DAY.isoformat()]
    assert day["calls.tickets"] == sum(e.name == "issued" for e in sent.queue)
    assert day["visitors.entries"] == visitors_expected(sent.readings)["*"]["visitors.entries"]
    same(day["posts.open_hours"], sum(v["posts.open_hours"] for v in posts_expected().values()), "open")
    (chart,) = trend.charts
    assert chart.type == "line" and chart.x == [DAY.isoformat()[5:]] and "进厅人次" in chart.series


def test_the_monthly_ranking_may_weigh_empty_posts(hall: tuple[Report, Sent]) -> None:
    _, sent = hall
    assert sent.month is not None
    ranking = next(s for s in sent.month.sections if s.key == "ranking")
    rows, weights = ranking.tables
    # W01 empty 30 minutes, W02 120: W01 first; W03 has no post (no value: scores 0, ties with W02 by name)
    assert [(r[1], r[2], r[3]) for r in rows.rows] == [("W01", 100.0, "红旗窗口"), ("W02", 0.0, ""), ("W03", 0.0, "")]
    assert weights.rows == [["空岗时长", 1.0, "越低越好"]]


def test_json_xlsx_and_pdf_carry_the_same_figures(hall: tuple[Report, Sent], tmp_path: Path) -> None:
    report, _ = hall
    again = Report.model_validate_json(as_json(report))
    assert again == report
    wb = openpyxl.load_workbook(io.BytesIO(as_xlsx(report)))
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(as_pdf(report))
    text = re.sub(
        r"\s+",
        " ",
        subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True).stdout,
    )
    for s in report.sections:
        ws = wb[s.title[:31]]
        assert s.title in text, s.title
        for n, f in enumerate(s.figures, 2):
            cell = ws.cell(row=n, column=3).value
            if isinstance(f.value, Missing):
                assert cell is None and f.value.reason in ws.cell(row=n, column=6).value
                assert f.value.reason in text, f.name
                continue
            assert cell == f.value and ws.cell(row=n, column=1).value == f.label, f.name
            shown = pdf_text(f.value, f.format)
            assert f"{f.label} {shown}" in text or f"{shown} {f.unit}" in text, (f.name, shown)
    for key, sheet in (("zones", "分区域"), ("trend", "每日趋势")):
        t = next(t for s in report.sections for t in s.tables if t.key == key)
        ws = wb[sheet]
        for r, row in enumerate(t.rows, 2):
            for c, v in enumerate(row, 1):
                if not isinstance(v, Missing):
                    assert ws.cell(row=r, column=c).value == v, (sheet, r, c)
        for row in t.rows:
            assert str(row[0]) in text
