"""The staff registry (`staff:`): post and phone slot completed from posts[] and phones.lockboxes,
contradictions and repeats refused with file and line, and `hallgate staff import` from CSV/XLSX."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.config.staff import registry

HALL = """site: s1
posts:
  - {window: W01, a: S1, b: S3}
  - {window: W02, a: S2}
phones: {lockboxes: [{device: lb-1, slots: {S1: 3}}]}
devices:
  - {id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12}
staff:
"""


def hall(tmp_path: Path, staff: str) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(HALL + staff)
    return path


def test_post_and_slot_come_from_posts_and_phones(tmp_path: Path) -> None:
    cfg = load_config(
        hall(
            tmp_path,
            "  - {id: S1, name: 王一, department: 社保科}\n  - {id: S3, name: 张三, phone: {device: lb-1, slot: 5}}\n",
        ),
        {},
    )
    one, three = registry(cfg)
    assert (one.window, one.post, one.device, one.slot) == ("W01", "A", "lb-1", 3)
    assert (three.window, three.post, three.device, three.slot) == ("W01", "B", "lb-1", 5)


@pytest.mark.parametrize(
    ("staff", "field", "says", "line"),
    [
        ("  - {id: S1, name: a}\n  - {id: S1, name: b}\n", "staff[1] (id S1).id", "已是 staff[0]", 10),
        ("  - {id: S9, name: a, window: W77}\n", "staff[0] (id S9).window", "不是本厅的窗口", 9),
        ("  - {id: S1, name: a, post: B}\n", "staff[0] (id S1).post", "posts[] 却是 W01 A", 9),
        ("  - {id: S2, name: a, window: W01}\n", "staff[0] (id S2).window", "posts[] 却在 W02", 9),
        (
            "  - {id: S2, name: a, phone: {device: lb-1, slot: 6}}\n"
            "  - {id: S3, name: b,\n     phone: {device: lb-1, slot: 6}}\n",
            "staff[1] (id S3).phone",
            "已属于 S2",
            11,
        ),
        (
            "  - {id: S1, name: a, phone: {device: lb-1, slot: 4}}\n",
            "staff[0] (id S1).phone",
            "phones.lockboxes 却是 lb-1 的 3 号",
            9,
        ),
        ("  - {id: S2, name: a, phone: {device: lb-1, slot: 3}}\n", "staff[0] (id S2).phone", "属于 S1", 9),
    ],
)
def test_registry_errors_name_field_and_line(tmp_path: Path, staff: str, field: str, says: str, line: int) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(hall(tmp_path, staff), {})
    assert any(p == field and says in m for p, m in e.value.problems), e.value.problems
    assert e.value.lines.get(field) == line, (e.value.lines, e.value.render())
    assert f"（第 {line} 行）" in e.value.render()


def _import(tmp_path: Path, sheet: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "staff", "import", str(sheet), "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


def test_import_csv_merges_into_the_staff_section_and_keeps_the_rest(tmp_path: Path) -> None:
    path = hall(tmp_path, "  - {id: S1, name: 旧名}\n  - {id: S2, name: 李四}\n")
    path.write_text("# the hall's own comment\n" + path.read_text() + "alerts: {clear_after_s: 5}\n")
    sheet = tmp_path / "staff.csv"
    sheet.write_text(
        "工号,姓名,科室,窗口,岗位,手机柜,格口\nS1,王一,社保科,W01,A,lb-1,3\nS3,张三,医保科,W01,B岗,lb-1,7\n",
        encoding="gb18030",
    )
    r = _import(tmp_path, sheet, path)
    assert r.returncode == 0, r.stderr
    assert "已导入 2 人，staff 共 3 人" in r.stdout
    text = path.read_text()
    assert text.startswith("# the hall's own comment\n") and "clear_after_s: 5" in text
    cfg = load_config(path, {})
    assert [(p.id, p.name, p.department) for p in cfg.staff] == [
        ("S1", "王一", "社保科"),
        ("S2", "李四", ""),
        ("S3", "张三", "医保科"),
    ]
    assert [(e.id, e.post, e.slot) for e in registry(cfg)] == [("S1", "A", 3), ("S2", "A", None), ("S3", "B", 7)]


def test_import_names_the_row_and_column_of_each_bad_cell_and_writes_nothing(tmp_path: Path) -> None:
    path = hall(tmp_path, "  - {id: S1, name: 王一}\n")
    before = path.read_text()
    sheet = tmp_path / "staff.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    for row in (
        ("姓名", "工号", "岗位", "手机柜", "格口"),
        ("王一", "S1", "C", "lb-1", "x"),
        ("", "S2", "A", None, None),
        ("张三", "S1"),
    ):
        ws.append(row)
    book.save(sheet)
    r = _import(tmp_path, sheet, path)
    assert r.returncode == 1
    assert "第 2 行 C 列（岗位）：“C”不是 A 或 B" in r.stderr
    assert "第 2 行 E 列（格口）：“x”不是格口号" in r.stderr
    assert "第 3 行 A 列（姓名）：姓名为空" in r.stderr
    assert "第 4 行 B 列（工号）：工号 S1 与第 2 行重复" in r.stderr
    assert path.read_text() == before


def test_an_import_the_hall_refuses_is_not_written(tmp_path: Path) -> None:
    path = hall(tmp_path, "  - {id: S1, name: 王一}\n")
    before = path.read_text()
    sheet = tmp_path / "staff.csv"
    sheet.write_text("id,name,window\nS7,赵六,W99\n")
    r = _import(tmp_path, sheet, path)
    assert r.returncode == 1
    assert "未写入" in r.stderr and "W99" in r.stderr
    assert path.read_text() == before
