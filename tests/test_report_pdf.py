"""The operations report's PDF (issue 24), read back with poppler's own tools: the CJK font is
embedded as a subset (`pdffonts`), the Chinese and the figures come back in order (`pdftotext`),
a long table runs over pages with its heading repeated, charts carry their Chinese labels, and a
machine without the font gets a Chinese error naming the package to install.

The report is built from plain objects of the model's shape (gateway/features/reports/pdf/shape.py),
so this stands without the figures' code."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import reportlab

from gateway.features.reports.pdf import FontMissing, render_pdf
from gateway.features.reports.pdf.cells import missing_note
from gateway.features.reports.pdf.fonts import ENV, PACKAGE

HALL = "青山区政务服务中心"
ROWS = 120  # window rows: more than two A4 pages hold


@dataclass
class Missing:
    code: str
    reason: str


@dataclass
class Column:
    key: str
    label: str
    unit: str = ""
    format: str = "int"


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[object]]
    note: str = ""


@dataclass
class Figure:
    name: str
    label: str
    unit: str = ""
    format: str = "int"
    formula: str = ""
    value: object = None
    previous: object = None
    last_year: object = None


@dataclass
class Chart:
    key: str
    title: str
    type: str
    x: list[str]
    series: dict[str, list[float | None]]
    unit: str = ""


@dataclass
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    note: str = ""


@dataclass
class Period:
    kind: str
    label: str
    start: date
    end: date
    days: int
    working_days: int
    timezone: str = "Asia/Shanghai"


@dataclass
class Report:
    title: str
    hall: str
    period: Period
    sections: list[Section]
    previous: Period | None = None
    last_year: Period | None = None
    created: datetime = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in the hall
    by: str = "张伟"


NO_SOURCE = Missing("no_source", "本厅没有排队叫号系统")
FIGURES = [
    Figure("ratings.good", "好评率", "%", "percent", "好评数 / 评价数", 0.953, 0.93, 0.9),
    Figure("tickets", "取号数", "人次", "int", "", 1234, 1000, Missing("no_data", "去年同期无数据")),
    Figure("handling", "平均办理时间", "分钟", "minutes", "", 12.46, 12.46, None),
    Figure("open", "开放量", "小时", "dec1", "", NO_SOURCE, NO_SOURCE, NO_SOURCE),
]
COLUMNS = [
    Column("window", "窗口", format="text"),
    Column("cases", "办件量", "件"),
    Column("good", "好评率", "%", "percent"),
    Column("handling", "平均办理时间", "分钟", "minutes"),
]


def window_rows(n: int) -> list[list[object]]:
    rows: list[list[object]] = [[f"综合窗口{i:03d}", 7 * i, 0.9 + i / 10000, 10 + i / 10] for i in range(1, n + 1)]
    if n > 4:
        rows[4][2] = Missing("no_data", "本期无人评价")
    for i in range(8, min(n, 12)):
        rows[i][3] = NO_SOURCE
    return rows


GOOD_PER_WINDOW = [0.95, 0.965, None, 0.99, 0.972, 0.981]  # ratios, as a percent column's
DAILY = [35.0 + d for d in range(29)] + [None]


def month(label: str, start: date, end: date) -> Period:
    return Period("month", label, start, end, (end - start).days + 1, 21)


def report(rows: int = ROWS, charts: bool = True) -> Report:
    days = [f"11-{d:02d}" for d in range(1, 31)]
    windows = [f"{i}号窗" for i in range(1, 7)]
    overview = Section(
        "overview",
        "一、总体情况",
        figures=FIGURES,
        charts=[
            Chart(
                "good_per_window",
                "各窗口好评率",
                "bar",
                windows,
                {"好评率": [0.95, 0.965, None, 0.99, 0.972, 0.981]},
                "%",
            ),
            Chart(
                "per_day",
                "每日取号与叫号",
                "line",
                days,
                {"取号数": [40.0 + d for d in range(30)], "叫号数": DAILY},
                "人次",
            ),
        ]
        if charts
        else [],
    )
    detail = Section(
        "windows", "二、窗口明细", tables=[Table("windows", "各窗口办件与评价", COLUMNS, window_rows(rows))]
    )
    return Report(
        f"{HALL} 运行情况报告 2026-11",
        HALL,
        month("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        [overview, detail],
        previous=month("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
        last_year=month("2025-11", date(2025, 11, 1), date(2025, 11, 30)),
    )


def write(tmp_path: Path, r: Report) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(r))
    return path


def tool(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def pages(path: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)$", tool("pdfinfo", path), re.M).group(1))  # type: ignore[union-attr]


def page_text(path: Path, page: int) -> str:
    return tool("pdftotext", "-layout", "-f", str(page), "-l", str(page), path, "-")


def footer(page: int, total: int) -> str:
    return f"第{page}页/共{total}页"  # pdftotext drops the footer's narrow spaces


def fonts(path: Path) -> list[list[str]]:
    """pdffonts' rows: name, type..., emb, sub, uni, object, generation (the type may have spaces)."""
    return [line.split() for line in tool("pdffonts", path).splitlines()[2:]]


def test_the_cjk_font_is_embedded_as_a_subset_and_no_other_font_is_named(tmp_path: Path) -> None:
    rows = fonts(write(tmp_path, report()))
    assert rows, "pdffonts lists no font"
    for row in rows:
        name, emb, sub = row[0], row[-5], row[-4]
        assert re.fullmatch(r"[A-Z]{6}\+WenQuanYiMicroHei-\d+", name), row  # the package .ci/setup installs
        assert (emb, sub) == ("yes", "yes"), row


def test_the_text_comes_back_in_chinese_with_the_figures_in_order(tmp_path: Path) -> None:
    path = write(tmp_path, report())
    first = page_text(path, 1)
    lines = [re.sub(r"\s+", " ", line).strip() for line in first.splitlines() if line.strip()]
    expected = [
        f"{HALL} 统计周期 2026-11（2026-11-01 至 2026-11-30）",  # the header
        f"{HALL} 运行情况报告 2026-11",
        "统计周期：2026-11（2026-11-01 至 2026-11-30），共 30 天，其中工作日 21 天",
        "对比：上期 2026-10（2026-10-01 至 2026-10-31）；去年同期 2025-11（2025-11-01 至 2025-11-30）",
        "生成时间：2026-12-01 08:00 生成人：张伟",
        "一、总体情况",
        "指标 本期 上期 环比 去年同期 同比",
        "好评率 95.3 % 93.0 % +2.3 个百分点 90.0 % +5.3 个百分点",
        "好评数 / 评价数",
        "取号数 1234 人次 1000 人次 +23.4 % 去年同期无数据 —",
        "平均办理时间 12.5 分钟 12.5 分钟 +0.0 % — —",
        "开放量 本厅没有排队叫号系统",
    ]
    found = [line for line in lines if line in expected]
    assert found == expected, first


def test_a_long_table_runs_over_pages_with_its_heading_on_each(tmp_path: Path) -> None:
    path = write(tmp_path, report())
    total = pages(path)
    assert total >= 4, "120 rows after a page of figures and charts need at least 3 more pages"
    seen: list[int] = []
    for page in range(1, total + 1):
        text = page_text(path, page)
        assert footer(page, total) in text.replace(" ", "")
        assert "统计周期 2026-11（2026-11-01 至 2026-11-30）" in text and HALL in text
        numbers = [int(n) for n in re.findall(r"^\s*综合窗口(\d{3})", text, re.M)]  # rows, not the note
        if numbers:
            head = re.sub(r"\s+", " ", text.split("综合窗口")[0])
            assert "窗口 办件量（件） 好评率（%） 平均办理时间（分钟）" in head, f"page {page} without the heading"
        seen += numbers
    assert seen == list(range(1, ROWS + 1)), "each row once, in order"
    row = next(line for line in tool("pdftotext", "-layout", path, "-").splitlines() if "综合窗口007" in line)
    assert row.split() == ["综合窗口007", "49", "90.1", "10.7"], "numbers without units in a table's cells"
    row5 = next(line for line in tool("pdftotext", "-layout", path, "-").splitlines() if "综合窗口005" in line)
    assert row5.split() == ["综合窗口005", "35", "—", "10.5"], "a missing value is no 0"
    note = (
        "“—”无数值：本期无人评价（好评率：综合窗口005）；"
        "本厅没有排队叫号系统（平均办理时间：综合窗口009、综合窗口010、综合窗口011 等 4 处）"
    )
    assert note in tool("pdftotext", "-raw", path, "-").replace("\n", ""), "and says why under the table"


def test_numbers_are_right_aligned_in_their_columns(tmp_path: Path) -> None:
    # -bbox: each word's box; the right edges of a column's numbers agree, their left edges do not.
    html = tool("pdftotext", "-bbox", "-f", "2", "-l", "2", write(tmp_path, report()), "-")
    words = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(\d+)</word>', html)
    cases = [(float(x0), float(x1)) for x0, x1, w in words if int(w) % 7 == 0 and 70 <= int(w) <= 7 * ROWS]
    assert len(cases) > 20 and min(int(w) for *_, w in words if int(w) % 7 == 0) < 100
    assert max(x1 for _, x1 in cases) - min(x1 for _, x1 in cases) < 0.5
    assert max(x0 for x0, _ in cases) - min(x0 for x0, _ in cases) > 2  # 99 and 120 differ in width


def test_charts_carry_their_chinese_labels(tmp_path: Path) -> None:
    path = write(tmp_path, report())
    words = page_text(path, 1).split()
    bar = ["各窗口好评率", "单位：%", "1号窗", "95", "96.5", "99", "97.2", "98.1", "6号窗"]  # values on the bars, in %
    line = ["每日取号与叫号", "单位：人次", "11-01", "11-03", "11-29", "取号数", "叫号数"]  # labels, legend
    for s in bar + line:
        assert s in words, s
    assert "11-02" not in words, "a month's days labelled every other day, so they do not touch"
    without = tool("pdftotext", write(tmp_path, report(charts=False)), "-")
    assert "各窗口好评率" not in without and "1号窗" not in without


def test_a_short_report_is_one_page(tmp_path: Path) -> None:
    path = write(tmp_path, report(rows=3, charts=False))
    assert pages(path) == 1
    assert footer(1, 1) in page_text(path, 1).replace(" ", "")


def test_a_table_without_rows_says_so(tmp_path: Path) -> None:
    text = tool("pdftotext", write(tmp_path, report(rows=0, charts=False)), "-")
    assert "本期无记录" in text


def test_no_font_installed_is_a_chinese_error_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    absent = tmp_path / "wqy-microhei.ttc"
    with pytest.raises(FontMissing) as caught:
        render_pdf(report(), search=(absent,))
    message = str(caught.value)
    assert "找不到字体文件" in message and str(absent) in message
    assert f"apt-get install {PACKAGE}" in message and PACKAGE == "fonts-wqy-microhei"
    assert message.endswith("(pdf_font_missing)")
    assert not list(tmp_path.iterdir()), "nothing written"


def test_the_environment_names_another_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere.ttf"))
    with pytest.raises(FontMissing, match=r"HALLGATE_PDF_FONT 指定的字体文件 .*nowhere.ttf 不存在"):
        render_pdf(report())
    # reportlab's own Vera has no Chinese: refused, not drawn as boxes
    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    monkeypatch.setenv(ENV, str(vera))
    with pytest.raises(FontMissing, match="不含中文字形"):
        render_pdf(report())
    monkeypatch.setenv(ENV, "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    assert all(
        row[0].endswith("+WenQuanYiZenHei-0") or "+WenQuanYiZenHei-" in row[0]
        for row in fonts(write(tmp_path, report()))
    )


def test_a_column_without_a_source_is_named_once_under_its_table() -> None:
    no_pads = Missing("no_source", "本厅没有评价器")
    t = Table("t", "窗口", COLUMNS, [["A窗", 1, no_pads, 2.0], ["B窗", 2, no_pads, Missing("no_data", "无数据")]])
    assert missing_note(t) == "“—”无数值：本厅没有评价器（好评率）；无数据（平均办理时间：B窗）"
    assert missing_note(Table("t", "窗口", COLUMNS, window_rows(3))) == ""
