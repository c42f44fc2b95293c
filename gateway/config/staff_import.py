"""`hallgate staff import FILE`: the staff registry from a CSV or XLSX sheet a hall already keeps,
merged into the hall file's `staff:` section (imported people replace their entry by 工号, the
others stay), the rest of the file (comments included) left as it was.

The first row names the columns, in Chinese or English (工号/id, 姓名/name, 科室/部门/department,
窗口/window, 岗位/AB岗/post, 手机柜/cabinet, 格口/slot); a bad cell is reported with its row and
column, in Chinese, and nothing is written while any is bad."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml

from gateway.domain.cells import runs

COLUMNS = {
    "id": ("工号", "id", "staff_id", "编号"),
    "name": ("姓名", "name"),
    "department": ("科室", "部门", "department", "dept"),
    "window": ("窗口", "window"),
    "post": ("岗位", "ab岗", "post"),
    "cabinet": ("手机柜", "cabinet", "device"),
    "slot": ("格口", "slot"),
}
NEEDED = ("id", "name")
TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


class ImportError_(ValueError):
    """Every bad cell of a sheet, each as a Chinese line naming its row and column."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join([f"{file}：{len(problems)} 处错误，未写入", *(f"  {p}" for p in problems)]))


def column_name(i: int) -> str:
    """0 -> A, 26 -> AA (as a spreadsheet names its columns)."""
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def read_rows(path: Path) -> list[list[Any]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        sheet = openpyxl.load_workbook(path, read_only=True, data_only=True).active
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    text = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK unless told otherwise
        try:
            # newline="": a quoted cell's line break stays in the cell (refused there), not lost
            return list(csv.reader(io.StringIO(text.decode(encoding), newline="")))
        except UnicodeDecodeError:
            continue
    raise ImportError_(str(path), ["文件既不是 UTF-8 也不是 GBK 编码的文本：请另存为 CSV（UTF-8）或 XLSX"])


def _cell(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # a 工号 typed as a number: 1001, not 1001.0
    return "" if v is None else str(v).strip()


def parse(path: Path) -> list[dict[str, Any]]:
    """The people of the sheet as `staff:` entries; raises ImportError_ with every bad cell."""
    rows = read_rows(path)
    if not rows:
        raise ImportError_(str(path), ["表格是空的：第 1 行应为列名（工号、姓名、科室、窗口、岗位、手机柜、格口）"])
    head = [_cell(h).lower() for h in rows[0]]
    where = {key: next((i for i, h in enumerate(head) if h in names), None) for key, names in COLUMNS.items()}
    missing = [COLUMNS[k][0] for k in NEEDED if where[k] is None]
    if missing:
        raise ImportError_(str(path), [f"第 1 行缺少列：{'、'.join(missing)}（列名可用中文或英文，如 工号/id）"])
    problems: list[str] = []
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        cells = {k: (_cell(row[i]) if i is not None and i < len(row) else "") for k, i in where.items()}
        if not any(cells.values()):
            continue  # an empty line
        entry, bad = _entry(cells)
        for key, msg in bad:
            i = where[key]
            problems.append(f"第 {n} 行 {column_name(i) if i is not None else '?'} 列（{COLUMNS[key][0]}）：{msg}")
        if entry["id"] in seen:
            col = column_name(where["id"] or 0)
            problems.append(
                f"第 {n} 行 {col} 列（工号）：工号 {entry['id']} 与第 {seen[entry['id']]} 行重复：每人只写一行"
            )
        seen.setdefault(entry["id"], n)
        out.append(entry)
    if problems:
        raise ImportError_(str(path), problems)
    return out


_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def _unsafe(c: dict[str, str]) -> list[tuple[str, str]]:
    """A cell that would break a line where it is shown (a page, a log, an e-mail), or run as a
    formula in the spreadsheets the hall exports: refused, the person told which."""
    bad = []
    for key, v in c.items():
        if _CONTROL.search(v):
            bad.append((key, "含有换行或其他控制字符：请删去"))
        elif runs(v):
            bad.append((key, f"以“{v[0]}”开头，表格软件会当作公式：请删去开头的符号"))
    return bad


def _entry(c: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    bad = _unsafe(c)
    if not c["id"]:
        bad.append(("id", "工号为空：请填写设备上使用的工号"))
    if not c["name"]:
        bad.append(("name", "姓名为空：请填写"))
    elif len(c["name"]) > 32:
        bad.append(("name", "姓名超过 32 个字"))
    e: dict[str, Any] = {"id": c["id"], "name": c["name"]}
    if c["department"]:
        e["department"] = c["department"]
    if c["window"]:
        e["window"] = c["window"]
    post = c["post"].upper().removesuffix("岗")
    if post in ("A", "B"):
        e["post"] = post
    elif post:
        bad.append(("post", f"“{c['post']}”不是 A 或 B：请填 A（本岗）或 B（替岗）"))
    if c["cabinet"] or c["slot"]:
        if not c["cabinet"]:
            bad.append(("cabinet", "给了格口但没有手机柜：请填写手机柜的设备编号"))
        if not c["slot"].isdigit() or int(c["slot"]) < 1:
            bad.append(("slot", f"“{c['slot']}”不是格口号：请填 1 起的整数"))
        else:
            e["phone"] = {"device": c["cabinet"], "slot": int(c["slot"])}
    return e, bad


def merged(existing: list[dict[str, Any]], imported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file's entries with each imported person replacing theirs (by 工号), new people after."""
    by_id = {e["id"]: e for e in imported}
    out = [by_id.pop(e["id"], e) for e in existing]
    return out + [e for e in imported if e["id"] in by_id]


def section(entries: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"staff": entries}, allow_unicode=True, sort_keys=False, default_flow_style=None)


def replace_section(text: str, new: str) -> str:
    """The hall file with its top-level `staff:` block replaced by `new` (appended when it has none)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("staff:")), None)
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + new
    end = next((i for i in range(start + 1, len(lines)) if TOP_KEY.match(lines[i])), len(lines))
    return "".join([*lines[:start], new, *lines[end:]])


def existing_entries(text: str) -> list[dict[str, Any]]:
    raw = yaml.safe_load(text) or {}
    staff = raw.get("staff") if isinstance(raw, dict) else None
    return [e for e in staff if isinstance(e, dict) and "id" in e] if isinstance(staff, list) else []
