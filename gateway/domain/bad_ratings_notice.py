"""每日差评工作提醒: what the hall's work group reads at the end of a day of its 差评 (钉钉 /
企业微信 markdown): each window's 差评 of the day, with the reasons the citizen gave and the state
of the work order each opened. Pure: the caller gives the rows in the hall's words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# 企业微信 takes at most 4096 bytes of markdown: what does not fit in this many is counted, not listed.
MAX_BYTES = 3800


def _size(lines: Sequence[str]) -> int:
    return len("\n".join(lines).encode())


def bad_ratings(hall: str, day: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """`rows`: window, at ('HH:MM'), score, reasons (labels), state (label), order (its id), in
    time order. A day without any says so (sent only when the hall asks for it)."""
    title = f"每日差评工作提醒：{day}"
    lines = [f"### {title}", f"- 大厅：{hall}", f"- 今日差评：{len(rows)} 条"]
    if not rows:
        lines += ["", "今日没有差评。"]
        return {"title": title, "text": "\n".join(lines)}
    by_window: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_window.setdefault(r.get("window") or "—", []).append(r)
    ending = ["", "请各窗口当日回访、按期整改，并在差评工单中登记处理情况。"]
    more = ["", "另有 999999 条未列出，请在管理页的差评工单中查看。"]  # its room, kept free
    listed = 0
    for window in sorted(by_window):
        head = ["", f"**窗口 {window}**（{len(by_window[window])} 条）"]
        for r in by_window[window]:
            reasons = "、".join(r.get("reasons") or ()) or "未选原因"
            line = f"- {r['at']} {r['score']} 分，原因：{reasons}；工单 #{r['order']}：{r['state']}"
            if _size([*lines, *head, line, *more, *ending]) > MAX_BYTES:
                break
            lines += [*head, line]
            head = []
            listed += 1
    if listed < len(rows):
        lines += ["", f"另有 {len(rows) - listed} 条未列出，请在管理页的差评工单中查看。"]
    return {"title": title, "text": "\n".join(lines + ending)}
