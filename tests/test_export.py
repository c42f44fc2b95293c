"""The manager page's exports (gateway/api/export.py): an XLSX that Excel sums and sorts (numbers,
percentages and times as such, read back with openpyxl) and a CSV Excel opens as UTF-8; the
history's export has every step its chart shows; and the hall's 好评率 thresholds the page colours by."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pydantic import ValidationError

from gateway.api.export import Column, local_time, to_csv, to_xlsx
from gateway.kinds.people_counter.history import Point, every_step
from gateway.kinds.rating_pad.settings import Ratings

SHANGHAI = "Asia/Shanghai"
COLUMNS = (Column("窗口"), Column("已评", "int"), Column("好评率", "percent"), Column("平均分", "float"))
COLUMNS += (Column("时段开始", "datetime"),)
ROWS = [
    ["W01", 12, 0.5, 3.25, local_time("2026-12-06T09:00:00.000+08:00")],
    ["W02", 3, None, None, None],
]


def test_an_xlsx_holds_numbers_percentages_and_times_not_text() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx("评价统计_按窗口", COLUMNS, ROWS))).active
    assert sheet.title == "评价统计_按窗口"
    assert [c.value for c in sheet[1]] == ["窗口", "已评", "好评率", "平均分", "时段开始"]
    w01 = sheet[2]
    assert [c.value for c in w01] == ["W01", 12, 0.5, 3.25, datetime(2026, 12, 6, 9, 0)]
    assert [c.number_format for c in w01[1:]] == ["0", "0.0%", "0.00", "yyyy-mm-dd hh:mm"]
    assert [c.value for c in sheet[3]] == ["W02", 3, None, None, None]  # a rate without ratings: an empty cell


def test_a_csv_starts_with_a_bom_and_writes_what_the_page_shows() -> None:
    body = to_csv(COLUMNS, ROWS)
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["窗口", "已评", "好评率", "平均分", "时段开始"],
        ["W01", "12", "50.0%", "3.25", "2026-12-06 09:00"],
        ["W02", "3", "", "", ""],
    ]


def test_the_halls_good_rate_thresholds_are_in_order() -> None:
    """The pages colour 好评率 by them: a red line above the green one would leave no green at all."""
    assert Ratings().good_rate_ok > Ratings().good_rate_low > 0.5  # 50 % is not green, nor amber
    with pytest.raises(ValidationError, match="好评率红线 good_rate_low 不能高于绿线 good_rate_ok"):
        Ratings(good_rate_ok=0.8, good_rate_low=0.9)


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 10**9


def test_the_history_export_has_every_step_the_chart_shows_gaps_too() -> None:
    nine, eleven = Point(ns("2026-12-07T09:00+08:00"), 5, 1, 4, 0), Point(ns("2026-12-07T11:00+08:00"), 2, 3, 3, 0)
    steps = every_step([nine, eleven], ns("2026-12-07T08:20+08:00"), ns("2026-12-07T11:30+08:00"), "hour", SHANGHAI)
    assert [p.start_ns for p in steps] == [ns(f"2026-12-07T{h:02d}:00+08:00") for h in (8, 9, 10, 11)]
    assert steps[1] == nine and steps[3] == eleven
    assert (steps[2].entered, steps[2].left, steps[2].occupancy) == (0, 0, None)  # no one counted, occupancy unknown


def test_a_day_step_is_the_halls_calendar_day_across_a_clock_change() -> None:
    berlin = "Europe/Berlin"  # 2026-03-29 has 23 hours there
    days = every_step([], ns("2026-03-28T10:00+01:00"), ns("2026-03-31T00:00+02:00"), "day", berlin)
    assert [datetime.fromtimestamp(p.start_ns / 1e9, ZoneInfo(berlin)).isoformat() for p in days] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
