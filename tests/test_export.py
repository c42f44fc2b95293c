"""The manager page's exports (gateway/api/export.py): an XLSX that Excel sums and sorts (numbers,
percentages and times as such, read back with openpyxl) and a CSV Excel opens as UTF-8; and the
hall's 好评率 thresholds the page colours by."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl
import pytest
from pydantic import ValidationError

from gateway.api.export import Column, local_time, to_csv, to_xlsx
from gateway.kinds.rating_pad.settings import Ratings

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
    with pytest.raises(ValidationError, match="good_rate_low must not be above good_rate_ok"):
        Ratings(good_rate_ok=0.8, good_rate_low=0.9)
