"""Text a person typed (a window, a department, a hall's name) reaching a spreadsheet, a robot's
markdown or an e-mail's headers: shown as typed, never run, never a link, a mention or a header.
The real writers (openpyxl, csv, email.message) and the real readers (openpyxl, email.parser)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl

from gateway.api.export import Column as ExportColumn
from gateway.api.export import to_csv, to_xlsx
from gateway.config.report_delivery import Email
from gateway.features.reports import message
from gateway.features.reports.deliver import message as mail
from gateway.features.reports.model import Column, FigureValue, Period, Report, Section, Table
from gateway.features.reports.xlsx import workbook

FORMULAS = ['=HYPERLINK("http://evil.example/","点此领取")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)"]
HALL = "某厅 [点我](http://evil.example) <@all> @all **粗**\r\nBcc: victim@example.com\n### 假标题"


def report(hall: str = HALL) -> Report:
    day = date(2026, 12, 7)
    period = Period(
        kind="day",
        label="2026-12-07",
        start=day,
        end=day,
        start_ns=0,
        end_ns=1,
        days=1,
        working_days=1,
        timezone="Asia/Shanghai",
    )
    cols = [Column(key="window", label="窗口", format="text"), Column(key="served", label="办结数")]
    table = Table(key="windows", title="各窗口", columns=cols, rows=[[f, 3] for f in FORMULAS])
    served = FigureValue(name="calls.served", label="办结数", unit="张", value=12)
    section = Section(key="calls", title="排队叫号", figures=[served], tables=[table])
    return Report(
        title=f"{hall} 日报",
        hall=hall,
        period=period,
        created=datetime(2026, 12, 8, tzinfo=UTC),
        by="=1+1",
        sections=[section],
    )


def test_a_report_xlsx_shows_formula_like_names_as_text() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(workbook(report())))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells}
    assert set(FORMULAS) <= texts and "=1+1" in texts


def test_an_export_csv_and_xlsx_show_formula_like_names_as_text() -> None:
    cols = [ExportColumn("窗口", "text"), ExportColumn("数", "int")]
    rows = [[f, -5] for f in FORMULAS]
    read = list(csv.reader(io.StringIO(to_csv(cols, rows).decode("utf-8-sig"))))[1:]
    assert [r[0] for r in read] == ["'" + f for f in FORMULAS]
    assert {r[1] for r in read} == {"-5"}  # a negative number stays a number
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx("导出", cols, rows))).active
    assert [(c.value, c.data_type) for (c,) in ws.iter_rows(min_row=2, max_col=1)] == [(f, "s") for f in FORMULAS]


def test_the_robots_markdown_has_no_link_mention_or_heading_from_the_hall_name() -> None:
    m = message.markdown(report(), "https://gw.example")
    first, *rest = m["text"].split("\n")
    assert first.startswith("### ") and "假标题" in first  # the name stays on the heading's line
    assert "](http://evil" not in m["text"] and "<@" not in m["text"] and "@all" not in m["text"]
    assert "**粗**" not in m["text"] and not any(line.startswith("###") for line in rest)
    assert "\n" not in m["title"] and "@" not in m["title"]
    assert m["text"].endswith("](https://gw.example)")  # the configured link still is one


def test_an_email_subject_and_file_name_cannot_carry_a_header(tmp_path: Path) -> None:
    subject, body = message.email(report(), None)
    assert "\r" not in subject and "\n" not in subject
    e = Email.model_validate({"host": "mail.example", "from": "gw@example.com", "to": ["boss@example.com"]})
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    m = {"report": 1, "subject": subject, "body": body, "name": "report-day-2026-12-07"}
    raw = mail(e, m, lambda _r, fmt: pdf if fmt == "pdf" else None, 7).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and [k for k in parsed if k.lower() == "bcc"] == []
    assert "假标题" in parsed["Subject"]


def test_a_staff_import_refuses_formula_like_or_multi_line_cells(tmp_path: Path) -> None:
    from gateway.config.staff_import import ImportError_, parse

    sheet = tmp_path / "staff.csv"
    sheet.write_text(
        '工号,姓名,科室\nS1,"=HYPERLINK(""http://evil.example"",""王"")",社保科\nS2,"李四\nBcc: x",医保科\n'
        "S3,张三,@SUM(A1)\nS4,王五,-\n",
        encoding="utf-8",
    )
    try:
        parse(sheet)
    except ImportError_ as e:
        said = "\n".join(e.problems)
    else:
        raise AssertionError("imported")
    assert "第 2 行 B 列（姓名）：以“=”开头" in said
    assert "第 3 行 B 列（姓名）：含有换行" in said
    assert "第 4 行 C 列（科室）：以“@”开头" in said
    assert "第 5 行 C 列（科室）：以“-”开头" in said


def test_a_departments_violation_notice_has_no_link_or_mention_from_registry_names() -> None:
    from gateway.domain.discipline_notice import confirmed, escalated

    evil = {
        "name": "王芳 <@all>",
        "staff": "S1](http://evil.example)",
        "department": "社保科\n### 全员注意 @所有人",
        "window": "[点我](http://evil.example)",
        "id": 7,
        "kind_label": "脱岗",
        "at": "2026-12-07 10:00",
    }
    one = confirmed(evil, 3)
    many = escalated("S1", "**王芳**", "社保科 <@all>", "2026-12", 3, [evil, evil, evil], 3)
    for m in (one, many):
        lines = m["text"].split("\n")
        assert sum(line.startswith("###") for line in lines) == 1, m["text"]
        assert "](http" not in m["text"] and "<@" not in m["text"] and "@" not in m["text"] and "**" not in m["text"]
        assert "王芳" in m["text"] and "社保科" in m["text"]
    assert "全员注意" in one["text"].split("\n")[2]  # the department's line break gone, its words kept
