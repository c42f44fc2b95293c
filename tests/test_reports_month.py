"""Issue 24 done: a simulated month of a hall (November 2026) makes its month's and one week's
operations reports as the product makes them (the report desk: the state database's row, the
figures, the files written), and every figure of the JSON is the same number in the XLSX
(openpyxl) and the same digits in the PDF's text (`pdftotext`), whose CJK font is embedded
(`pdffonts`); the 一月一评比 follows the configured weights; and the headline figures are the
counts of what this test sent.

Each working day's queue (the simulator's day plan), ratings (a few 差评, whose work orders are
then called back, rectified or left open), punches and counter readings go through the kinds'
own projections into a real state database (tests/figures_hall.py); a few violations go into the
discipline ledger and are confirmed, dismissed or left detected as a manager would."""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from firmware_sim.kinds.queue_day import DEFAULT_LINES, DayConfig, default_serves, plan_day
from gateway.domain.canonical import READING, Event
from gateway.features.reports import sources
from gateway.features.reports.desk import ReportDesk
from gateway.features.reports.model import Missing, Report, Table
from gateway.kinds.lookup import Projections
from gateway.kinds.reads import RatingsRecord
from tests.figures_hall import HALL, NOW, TZ, WINDOWS, at, opened

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
WORKING = [d for d in DAYS if d.weekday() < 5]  # 21 days
WEEK = ("2026-W47", date(2026, 11, 16), date(2026, 11, 23))  # label, first day, the day after
WEIGHTS = {"good_rate": 30.0, "rating_rate": 30.0, "handling_mean": 20.0, "violations": 10.0, "overdue": 10.0}
MONTH_HALL = HALL.replace(
    "devices:\n",
    "reports: {{ranking: {{weights: {weights}, red_flags: 1}}}}\n"
    "devices:\n"
    "  - {{id: rp-2, kind: rating_pad, profile: ref-rating-pad, window: W02, zone: east}}\n"
    "  - {{id: rp-3, kind: rating_pad, profile: ref-rating-pad, window: W03, zone: west}}\n",
).replace("{weights}", "{{" + ", ".join(f"{k}: {v}" for k, v in WEIGHTS.items()) + "}}")
PADS = {"W01": "rp-1", "W02": "rp-2", "W03": "rp-3"}
# each window's pad: how many of its finished visits are rated, and the scores it draws from
RATES = {"W01": (0.5, (5, 4, 4, 3)), "W02": (0.7, (5, 5, 4, 4)), "W03": (0.9, (5, 5, 5, 4))}
# (working day, window): the day's first rated visit there is a 差评 instead
BAD = {(0, "W03"): 1, (3, "W02"): 2, (11, "W03"): 1, (18, "W01"): 2}
# (working day, kind, staff, window, what the manager does)
VIOLATIONS = [
    (1, "away", "S0001", "W01", "confirmed"),
    (6, "phone", "S0003", "W02", "confirmed"),
    (12, "away", "S0003", "W02", "confirmed"),
    (13, "unready", "S0002", "W01", "dismissed"),
    (14, "phone", "S0001", "W01", None),
]
PUNCHES = [("S0001", 8.9, "in"), ("S0001", 17.1, "out"), ("S0002", 11.5, "in"), ("S0002", 17.2, "out")]
COUNTERS = ("pc-e", "pc-w")
STEPS = {"confirmed": "confirm", "dismissed": "dismiss"}  # the ledger's step to each state


@dataclass
class Month:
    events: list[Event] = field(default_factory=list)
    violations: list[tuple[int, str]] = field(default_factory=list)  # (at_ns, final state)
    reports: dict[str, tuple[Report, Path]] = field(default_factory=dict)  # kind -> report, its files


def day_of_queue(day: date, seq: Iterator[int]) -> list[Event]:
    n = count(1)
    cfg = DayConfig(
        day,
        WINDOWS,
        default_serves(WINDOWS, DEFAULT_LINES),
        tickets=40,
        seed=f"month-{day}",
        appointment_share=0.2,
        transfer_share=0.05,
        case_ids=lambda: f"320111-{day:%m%d}-{next(n):03d}",
    )
    return [
        Event("q-1", e.fields["type"], at(0, day) + round(e.t * 1000) * 10**6,
              {k: v for k, v in e.fields.items() if k != "type"}, next(seq))
        for e in plan_day(cfg).events
    ]  # fmt: skip


def day_of_ratings(k: int, day: date, queue: list[Event], seq: Iterator[int]) -> list[Event]:
    rng = random.Random(f"rate-{day}")
    out, bad_done = [], set()
    for e in (e for e in queue if e.name == "finished"):
        w = e.fields["window"]
        share, scores = RATES[w]
        bad = BAD.get((k, w)) if w not in bad_done else None
        if bad is None and rng.random() >= share:
            continue
        bad_done.add(w)
        score = bad or rng.choice(scores)
        fields = {"score": score, "case_id": e.fields["case_id"], "window": w, "staff_id": e.fields["staff_id"]}
        out.append(
            Event(PADS[w], "rated", e.ts_ns + 30 * 10**9, fields | {"reasons": "态度" if bad else ""}, next(seq))
        )
    return out


def readings(day: date, totals: dict[str, list[int]], rng: random.Random) -> list[Event]:
    """Every half hour 08:00-18:00 both counters' running totals (never reset); by 18:00 everyone has left."""
    out = []
    for step in range(21):
        for n, c in enumerate(COUNTERS):
            t = totals[c]
            if step == 20:
                t[1] = t[0]
            elif step:
                t[0] += rng.randint(0, 12)
                t[1] += rng.randint(0, t[0] - t[1])
            ts = at(8, day) + step * 1800 * 10**9 + n * 10**9
            out.append(Event(c, READING, ts, {"in_total": t[0], "out_total": t[1], "sensor": "ok"}))
    return out


def desk_report(desk: ReportDesk, kind: str, period: str) -> tuple[Report, Path]:
    """As POST /api/v1/reports makes one: the row, the figures, the files, the row finished."""
    req = desk.ask(kind, period, "测试")
    assert req.new
    report = desk.build(req, "测试")
    assert report is not None, desk.repo.get(req.id)
    desk.finish(req, desk.write(req, report))
    row = desk.repo.get(req.id)
    assert row is not None and row["status"] == "done", row
    return Report.model_validate_json((desk.files(req.id) / "report.json").read_text()), desk.files(req.id)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    tmp = tmp_path_factory.mktemp("month")
    sent = Month()
    seq, totals, rng = count(), {c: [0, 0] for c in COUNTERS}, random.Random(11)
    with opened(tmp, MONTH_HALL) as hall:
        for k, day in enumerate(WORKING):
            queue = day_of_queue(day, seq)
            w02 = [("S0003", 9.4 if k % 7 == 3 else 8.8, "in"), ("S0003", 17.0, "out")]  # late on a few days
            punches = [
                Event("att-1", "punch", at(h, day), {"staff_id": s, "method": "face", "direction": d}, next(seq))
                for s, h, d in [*PUNCHES, *w02]
            ]
            sent.events += queue + day_of_ratings(k, day, queue, seq) + punches + readings(day, totals, rng)
        hall.project(sent.events)
        found = Projections(hall.projections)
        ratings = found.reads(RatingsRecord)
        assert ratings is not None
        orders = ratings.orders_rated(at(0, DAYS[0]), at(0, DAYS[-1] + timedelta(days=1)))
        assert len(orders) == len(BAD)
        pad = next(p for p in hall.projections if p.name == "ratings")
        first, second = orders[0], orders[1]
        # the first called back (satisfied) and rectified the next day; the second only called back
        pad.act(first.id, "callback", "测试", "已电话回访", first.rated_ns + 24 * 3600 * 10**9, "satisfied")
        pad.act(first.id, "rectify", "测试", "已整改", first.rated_ns + 48 * 3600 * 10**9)
        pad.act(second.id, "callback", "测试", "已电话回访", second.rated_ns + 24 * 3600 * 10**9, "dissatisfied")
        repo = hall.journal.repos.violations
        for n, (k, kind, staff, window, end) in enumerate(VIOLATIONS):
            ts = at(10 + n / 4, WORKING[k])
            row = {"key": f"{kind}:{staff}:{ts}", "kind": kind, "staff": staff, "window": window, "at_ns": ts}
            (vid,) = repo.add([row | {"evidence": [{"device": "cam-1", "ts_ns": ts}]}], ts)
            if end is not None:
                assert repo.step(vid, end, "detected", STEPS[end], ("科长", "manager"),
                                 "核实", None, ts + 3600 * 10**9)  # fmt: skip
            sent.violations.append((ts, end or "detected"))
        occupancy = next(p for p in hall.projections if p.name == "occupancy")
        rows = [(b.zone, b.start_ns, b.entered, b.left, b.occupancy, b.clamped) for b in occupancy.take_history()]
        hall.journal.save_occupancy_minutes(rows, 60 * 24 * 3600 * 10**9)
        desk = ReportDesk(hall.cfg, sources(found, hall.journal, hall.cfg), hall.journal.repos.reports,
                          tmp / "reports", clock=lambda: NOW)  # fmt: skip
        sent.reports["month"] = desk_report(desk, "month", "2026-11")
        sent.reports["week"] = desk_report(desk, "week", WEEK[0])
        yield sent


# -- what the test works out from what it sent ---------------------------------------------------------


def expected(sent: Month, start: date, end: date) -> dict[str, int]:
    """The headline figures counted from the events of [start, end)."""
    lo, hi = at(0, start), at(0, end)
    mine = [e for e in sent.events if lo <= e.ts_ns < hi]
    rated = [e for e in mine if e.name == "rated"]
    # S0002 (W01's B) comes at 11:30 every day; S0003 (W02's only one) at 09:24 on its late days,
    # leaving W02's post empty those 24 minutes
    late = [e for e in mine if e.name == "punch" and e.fields["direction"] == "in" and e.ts_ns > at(9, day(e))]
    before = {c: max((e.fields["in_total"] for e in sent.events if e.device == c and e.ts_ns < lo), default=0)
              for c in COUNTERS}  # fmt: skip
    last = {c: max((e.fields["in_total"] for e in sent.events if e.device == c and e.ts_ns < hi), default=0)
            for c in COUNTERS}  # fmt: skip
    return {
        "calls.tickets": sum(e.name == "issued" for e in mine),
        "calls.served": sum(e.name == "finished" for e in mine),
        "ratings.rated": len(rated),
        "ratings.bad": sum(e.fields["score"] <= 2 for e in rated),
        "orders.opened": sum(e.fields["score"] <= 2 for e in rated),
        "discipline.confirmed": sum(lo <= t < hi and s == "confirmed" for t, s in sent.violations),
        "clocking.punches": sum(e.name == "punch" for e in mine),
        "visitors.entries": sum(last[c] - before[c] for c in COUNTERS),
        "clocking.late": len(late),
        "posts.empty_minutes": 24 * sum(e.fields["staff_id"] == "S0003" for e in late),
    }


def day(e: Event) -> date:
    return datetime.fromtimestamp(e.ts_ns / 1e9, TZ).date()


def figures(report: Report) -> dict[str, Any]:
    return {f.name: f.value for s in report.sections for f in s.figures}


def table(report: Report, key: str) -> Table:
    return next(t for s in report.sections for t in s.tables if t.key == key)


def pdf_text(value: Any, fmt: str) -> str:
    """How the PDF writes a value: the digits the API gives, one decimal, a ratio in per cent."""
    if fmt == "text" or isinstance(value, str):
        return str(value)
    return {"int": f"{round(value)}", "percent": f"{value * 100:.1f}"}.get(fmt) or f"{value:.1f}"


def heading(label: str, unit: str, fmt: str) -> str:
    return f"{label}（{unit}）" if unit and fmt != "percent" else label


def pdf_row(t: Table, row: list[Any]) -> str:
    """A table's row as the PDF's text has it: the cells in order, a dash where there is no value."""
    cells = [
        "—" if isinstance(v, Missing) or v is None else pdf_text(v, c.format)
        for c, v in zip(t.columns, row, strict=True)
    ]
    return " ".join(c for c in cells if c)


def read_pdf(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", out)


def the_number(cell: Any, value: Any, where: object) -> None:
    """An XLSX cell holding the API's value: a number as a number, a missing one empty."""
    if isinstance(value, Missing) or value is None or value == "":  # an empty text is an empty cell
        assert cell is None, where
    elif isinstance(value, str):
        assert cell == value, where
    else:
        assert isinstance(cell, int | float) and not isinstance(cell, bool), (where, cell)
        assert cell == pytest.approx(value, abs=1e-9), where


# -- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["month", "week"])
def test_the_headline_figures_are_the_counts_of_what_was_sent(month: Month, kind: str) -> None:
    report, _ = month.reports[kind]
    start, end = (DAYS[0], DAYS[-1] + timedelta(days=1)) if kind == "month" else WEEK[1:]
    want = expected(month, start, end)
    assert all(want.values()), want  # every headline figure has something to count
    got = figures(report)
    assert {n: got[n] for n in want} == want
    assert got["visitors.daily_entries"] == round(want["visitors.entries"] / (end - start).days, 1)
    if kind == "month":
        f = figures(report)
        # the first order rectified in time, the second only called back and past its 15 working days
        assert (f["orders.closed_in_time"], f["orders.overdue"], f["orders.satisfaction"]) == (1, 1, 0.5)


@pytest.mark.parametrize("kind", ["month", "week"])
def test_every_figure_of_the_json_is_the_same_cell_in_the_xlsx_and_the_same_digits_in_the_pdf(
    month: Month, kind: str
) -> None:
    report, files = month.reports[kind]
    wb = openpyxl.load_workbook(files / "report.xlsx")
    text = read_pdf(files / "report.pdf")
    checked = 0
    for s in report.sections:
        ws = wb[s.title[:31]]
        assert s.title in text, s.title
        for n, f in enumerate(s.figures, 2):
            assert ws.cell(row=n, column=1).value == f.label, f.name
            for col, v in ((3, f.value), (4, f.previous), (5, f.last_year)):
                the_number(ws.cell(row=n, column=col).value, v, (f.name, col))
            if f.format == "percent" and isinstance(f.value, float):  # a rate is a number shown as one
                assert ws.cell(row=n, column=3).number_format == "0.0%", f.name
            if isinstance(f.value, Missing):
                assert f.value.reason in text, f.name
                continue
            shown = pdf_text(f.value, f.format)
            assert f"{f.label} {shown}" in text or f"{shown} {f.unit}" in text, (f.name, shown)
            checked += 1
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        below = len(s.figures) + 1 if s.figures else 0
        for t in s.tables:  # each table's header found below the one before, its cells under it
            head = [heading(c.label, c.unit, c.format) for c in t.columns] + ["说明"]
            at_row = next((r for r in range(below, len(rows)) if rows[r][: len(head)] == head), None)
            assert at_row is not None, (s.key, t.key, head, rows[below : below + 3])
            for r, cells in enumerate(t.rows, at_row + 1):
                for c, (col, v) in enumerate(zip(t.columns, cells, strict=True)):
                    the_number(rows[r][c], v, (s.key, t.key, r, col.key))
                    checked += 1
                assert pdf_row(t, cells) in text, (s.key, t.key, pdf_row(t, cells))
            below = at_row + 1 + len(t.rows)
    assert checked > 200, checked


def test_the_pdf_embeds_its_cjk_font(month: Month) -> None:
    for kind in ("month", "week"):
        _, files = month.reports[kind]
        out = subprocess.run(["pdffonts", files / "report.pdf"], capture_output=True, text=True, check=True).stdout
        fonts = out.splitlines()[2:]
        assert fonts, out
        for line in fonts:  # name, type..., emb, sub, uni, object, generation
            row = line.split()
            assert re.fullmatch(r"[A-Z]{6}\+WenQuanYiMicroHei-\d+", row[0]), row  # the package .ci/setup installs
            assert (row[-5], row[-4]) == ("yes", "yes"), row


def ranked(rows: dict[str, dict[str, float | None]], rated: dict[str, int]) -> list[tuple[str, float]]:
    """一月一评比 worked out here: each criterion scaled across the windows to 0..1 (best 1), the
    weighted mean out of 100; ties by 好评率, then ratings, then the window's name."""
    less_better = {"handling_mean", "violations", "overdue"}
    score = dict.fromkeys(rows, 0.0)
    for c, weight in WEIGHTS.items():
        vals = [r[c] for r in rows.values() if r[c] is not None]
        lo, hi = min(vals), max(vals)
        for w, r in rows.items():
            v = r[c]
            part = 0.0 if v is None else 1.0 if hi == lo else (v - lo) / (hi - lo)
            score[w] += weight * (1 - part if v is not None and hi != lo and c in less_better else part)
    total = {w: round(100 * s / sum(WEIGHTS.values()), 2) for w, s in score.items()}
    order = sorted(rows, key=lambda w: (-total[w], -(rows[w]["good_rate"] or 0), -rated[w], w))
    return [(w, total[w]) for w in order]


def test_the_months_ranking_follows_the_weights(month: Month) -> None:
    report, _ = month.reports["month"]
    windows = table(report, "windows")
    labels = [c.label for c in windows.columns]
    by = {str(r[0]): dict(zip(labels, r, strict=True)) for r in windows.rows}
    # each criterion as the windows' table heads it
    heads = {"good_rate": "好评率", "rating_rate": "评价率", "handling_mean": "平均办理时长"}
    heads |= {"violations": "确认违规数", "overdue": "逾期工单数"}
    rows = {w: {c: by[w][head] for c, head in heads.items()} for w in WINDOWS}
    assert all(isinstance(v, int | float) for r in rows.values() for v in r.values()), rows
    want = ranked(rows, {w: by[w]["评价数"] for w in WINDOWS})
    ranking = table(report, "ranking")
    got = [(r[1], r[2]) for r in ranking.rows]
    assert [w for w, _ in got] == [w for w, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=0.01)
    assert [w for w, _ in want] != sorted(WINDOWS)  # not the windows' names' order: the weights decided
    assert [r[3] for r in ranking.rows] == ["红旗窗口", "", ""]
    weights = table(report, "weights")
    assert {r[1] for r in weights.rows} == set(WEIGHTS.values()) and len(weights.rows) == len(WEIGHTS)
