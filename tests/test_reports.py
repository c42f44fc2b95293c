"""Operations reports apart from a running hall: 一月一评比 and its ties, a hall without a source
(its figures say so, never 0), the XLSX read back with openpyxl, the reports' rows (one rendering
at a time per period, none left rendering), the ranking's weights in the configuration."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError

from gateway.config.hall import HallConfig
from gateway.domain.periods import parse
from gateway.domain.ranking import TIE_RULE, rank
from gateway.features.reports.build import build
from gateway.features.reports.figures import FIGURES, Inputs
from gateway.features.reports.gather import Sources
from gateway.features.reports.model import Missing
from gateway.features.reports.xlsx import workbook
from gateway.store.journal import Journal

NOW = 1_796_601_600 * 10**9  # 2026-12-07 08:00 in Shanghai


def test_the_score_is_the_weighted_mean_of_the_scaled_criteria() -> None:
    rows = {
        "A": {"good_rate": 0.9, "overdue": 0.0},
        "B": {"good_rate": 0.8, "overdue": 2.0},
        "C": {"good_rate": 1.0, "overdue": 1.0},
    }
    ranked = rank(rows, {"good_rate": 3, "overdue": 1}, red_flags=1)
    # good_rate scaled 0.8..1.0: A 0.5, B 0, C 1; overdue (less is better) 0..2: A 1, B 0, C 0.5
    assert [(r.window, r.score, r.red_flag) for r in ranked] == [
        ("C", 87.5, True),
        ("A", 62.5, False),
        ("B", 0.0, False),
    ]


def test_ties_are_broken_by_good_rate_then_ratings_then_the_window() -> None:
    # only violations weigh, and all four have none: one score for all
    rows = {
        "W04": {"violations": 0.0, "good_rate": 0.9},
        "W03": {"violations": 0.0, "good_rate": 0.95},
        "W02": {"violations": 0.0, "good_rate": 0.9},
        "W01": {"violations": 0.0, "good_rate": 0.9},
    }
    ranked = rank(rows, {"violations": 1}, red_flags=2, rated={"W04": 30, "W02": 10, "W01": 10})
    assert {r.score for r in ranked} == {100.0}
    assert [r.window for r in ranked] == ["W03", "W04", "W01", "W02"]  # 好评率, then ratings, then the name
    assert [r.rank for r in ranked] == [1, 2, 3, 4] and [r.red_flag for r in ranked] == [True, True, False, False]
    assert "好评率" in TIE_RULE and "评价数" in TIE_RULE


def test_a_window_without_a_value_scores_nothing_on_that_criterion() -> None:
    ranked = rank({"W01": {"good_rate": None}, "W02": {"good_rate": 0.5}}, {"good_rate": 1}, red_flags=0)
    assert [(r.window, r.score) for r in ranked] == [("W02", 100.0), ("W01", 0.0)]


def test_the_ranking_weights_are_checked_in_the_configuration() -> None:
    assert HallConfig(site="t", reports={"ranking": {"weights": {"good_rate": 2}}}).reports.ranking.weights == {
        "good_rate": 2
    }
    with pytest.raises(ValidationError, match="未知指标 speed"):
        HallConfig(site="t", reports={"ranking": {"weights": {"speed": 1}}})
    with pytest.raises(ValidationError, match="至少一项大于 0"):
        HallConfig(site="t", reports={"ranking": {"weights": {"good_rate": 0}}})


def test_a_hall_without_sources_says_so_for_every_figure_and_never_gives_0() -> None:
    cfg = HallConfig(site="t", name="无设备厅", posts=[{"window": "W01", "a": "S1"}])
    report = build(cfg, Sources(None, None, None, None, None), parse("month", "2026-11"), NOW, "test")
    figures = [f for s in report.sections for f in s.figures]
    assert len(figures) == len(FIGURES)
    for f in figures:
        assert isinstance(f.value, Missing) and f.value.code == "no_source", f.name
        assert f.value.reason  # in Chinese
    by_name = {f.name: f for f in figures}
    assert by_name["calls.tickets"].value.reason == "本厅没有排队叫号系统"
    assert by_name["clocking.late"].value.reason == "本厅没有考勤机"
    window_rows = next(s for s in report.sections if s.key == "windows").tables[0].rows
    assert window_rows[0][0] == "W01" and all(isinstance(v, Missing) for v in window_rows[0][1:])
    ranking = next(s for s in report.sections if s.key == "ranking")
    weights = next(t for t in ranking.tables if t.key == "weights")
    assert [r[:2] for r in weights.rows] == [["好评率", 40.0], ["评价率", 20.0], ["平均办理时长", 20.0],
                                             ["确认违规数", 10.0], ["逾期工单数", 10.0]]  # fmt: skip
    assert TIE_RULE in ranking.note


def test_the_figures_count_their_inputs() -> None:
    """The registry's own formulas on inputs made here (the end-to-end test takes them from events)."""
    from gateway.domain.attendance import DailyRecord
    from gateway.domain.ratings import Rating
    from gateway.domain.workorders import WorkOrder

    def rating(score: int | None, reasons: tuple[str, ...] = ()) -> Rating:
        return Rating("k", score is not None, "rp", 1, 0, "2026-12-01", "", "W01", "S1", "", "z", "", score, reasons)

    def order(state: str, updated: int, deadline: int) -> WorkOrder:
        return WorkOrder(1, "k", "", "W01", "S1", "", 1, (), "rp", 0, 0, deadline, state, updated)

    i = Inputs(
        calls={"issued": 3, "served": 2},
        ratings=[rating(5), rating(4), rating(1, ("slow",)), rating(None)],
        orders=[order("closed", 5, 10), order("rectified", 12, 10), order("open", 0, 10), order("open", 0, 99)],
        clocking=[DailyRecord("S1", punches=2, late=True), DailyRecord("S2", punches=0)],
        violations=[
            {"kind": "away", "state": "confirmed"},
            {"kind": "phone", "state": "decided", "outcome": "overturned"},
        ],
        end_ns=50,
    )
    got = {f.name: f.compute(i) for f in FIGURES}
    assert got["ratings.rated"] == 3 and got["ratings.bad"] == 1 and got["ratings.good_rate"] == round(2 / 3, 4)
    assert got["orders.opened"] == 4 and got["orders.closed_in_time"] == 1 and got["orders.overdue"] == 1
    assert got["orders.rectification_rate"] == 0.5
    assert (got["clocking.punches"], got["clocking.late"], got["clocking.absent"]) == (2, 1, 1)
    assert got["discipline.confirmed"] == 1
    assert isinstance(got["ratings.rating_rate"], Missing)  # no served visits known: no denominator


def test_the_xlsx_holds_numbers_with_their_formats(tmp_path: Path) -> None:
    cfg = HallConfig(site="t", posts=[{"window": "W01", "a": "S1"}])
    report = build(cfg, Sources(None, None, None, None, None), parse("week", "2026-W49"), NOW, "王经理")
    wb = openpyxl.load_workbook(io.BytesIO(workbook(report)))
    assert wb.sheetnames[0] == "概况" and "排队叫号" in wb.sheetnames and "分窗口" in wb.sheetnames
    head = wb["概况"]
    assert head["B3"].value.date() == date(2026, 11, 30) and head["B4"].value.date() == date(2026, 12, 6)
    assert head["B5"].value == 7 and isinstance(head["B5"].value, int)
    q = wb["排队叫号"]
    assert q.freeze_panes == "A2" and q["A1"].value == "指标" and q["C1"].value == "本期"
    assert q["A2"].value == "取号数" and q["C2"].value is None and "本厅没有排队叫号系统" in q["F2"].value
    assert q.column_dimensions["A"].width >= 8


def test_one_report_of_a_period_renders_at_a_time_and_none_stays_rendering(tmp_path: Path) -> None:
    j = Journal(tmp_path / "state.sqlite")
    try:
        repo = j.repos.reports
        a, new = repo.start("week", "2026-W49", 1, 2, "王经理")
        b, again = repo.start("week", "2026-W49", 1, 2, "李经理")
        assert new and b == a and again is False  # the same report, not a second one
        other, _ = repo.start("month", "2026-11", 1, 2, "王经理")
        assert other != a
        repo.finish(a)
        c, new = repo.start("week", "2026-W49", 1, 2, "王经理")
        assert new and c != a  # asked again once done: a new report
        assert repo.abandon_rendering("网关停止") == 2
        rows = {r["id"]: r for r in repo.list()}
        assert rows[a]["status"] == "done" and rows[c]["status"] == rows[other]["status"] == "failed"
        assert rows[c]["reason"] == "网关停止"
    finally:
        j.close()
