"""What a department's work group reads of its people's violations (钉钉 / 企业微信 markdown):
one confirmed violation, or the three strikes with their list, and what the department is to do.
Pure: the caller gives the labels, names and times already in the hall's words. A name, a
department or a window came from the staff registry (a sheet imported): put in as plain text,
never markup or a mention (gateway/domain/markdown.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.domain.markdown import plain


def _who(v: Mapping[str, Any]) -> str:
    # The department's own group: the person in full, with the id its records use.
    staff = plain(str(v["staff"]))
    return f"{plain(v['name'])}（工号 {staff}）" if v.get("name") else f"工号 {staff}"


def confirmed(v: Mapping[str, Any], days: int) -> dict[str, str]:
    """`v`: id, kind_label, staff, name, window, department, at (hall time, 'YYYY-MM-DD HH:MM')."""
    title = f"违规通知：{v['kind_label']}"
    lines = [
        f"### {title}",
        f"- 人员：{_who(v)}",
        f"- 科室：{plain(v['department'])}",
        f"- 窗口：{plain(v.get('window') or '—')}",
        f"- 时间：{v['at']}",
        f"- 台账编号：#{v['id']}",
        "",
        f"该违规已由值班负责人确认。请科室负责人约谈当事人，并于 {days} 个工作日内反馈整改情况。",
        "如有异议，当事人可在台账中提出申诉。",
    ]
    return {"title": title, "text": "\n".join(lines)}


def _row(i: int, r: Mapping[str, Any]) -> str:
    return f"{i}. #{r['id']} {r['at']} {plain(r.get('window') or '—')} {r['kind_label']}"


def escalated(
    staff: str, name: str | None, department: str, period: str, limit: int, rows: Sequence[Mapping[str, Any]], days: int
) -> dict[str, str]:
    """The three strikes: `rows` (id, kind_label, window, at) are the violations that reached `limit`."""
    who = _who({"staff": staff, "name": name})
    title = f"违规累计达到上限：{plain(name or staff)}"
    lines = [
        f"### {title}",
        f"- 人员：{who}",
        f"- 科室：{plain(department)}",
        f"- 统计期：{period}，已确认违规 {len(rows)} 次（上限 {limit} 次）",
        "",
        "违规清单：",
        *(_row(i, r) for i, r in enumerate(rows, 1)),
        "",
        f"按大厅管理规定，请科室另行选派人员到岗，并于 {days} 个工作日内书面反馈处理结果。",
    ]
    return {"title": title, "text": "\n".join(lines)}
