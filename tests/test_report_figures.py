"""The report's figures of the hall as a place (issue 24): walk-in vs appointment tickets, 办件量
by result, window posts (开放量, 空岗, AB 顶岗), visitors (entries, peak occupancy and its hour),
devices (availability per kind, incidents, MTTR), pickup lockers (deposits, pickups, time to
pickup, overdue) and 回访满意度, per hall, window and zone, and the day's trend.

One day of a hall goes through the kinds' own projections into a real state database (queue
events, punches, counter readings, ratings and their work orders' call-backs); the health
transitions, alerts and pickup items go in through the gateway's repositories
(tests/figures_hall.py). The report is built from it as the gateway builds it; every figure is
compared with one this test works out itself from what it sent, minute by minute or item by item,
with none of the product's code.
The same report's JSON, XLSX and PDF then carry the same figures.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gateway.domain.canonical import Event
from gateway.features.reports.model import Missing, Report
from gateway.features.reports.render import as_json, as_pdf, as_xlsx
from tests.figures_hall import ALERTS, COUNTERS, DAY, HEALTH, ITEMS, PUNCHES, TZ, WINDOWS, Sent, at, seeded


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Report, Sent]]:
    with seeded(tmp_path_factory.mktemp("figures")) as got:
        yield got


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
