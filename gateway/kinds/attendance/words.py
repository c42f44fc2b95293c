"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

ERRORS: dict[str, Entry] = {
    "no_attendance_machines": Entry("本厅未配置考勤机", "请联系系统管理员在配置文件中添加考勤机"),
}
LABELS: dict[str, dict[str, str]] = {
    "alert": {"post_empty": "空岗"},
    # GET /api/v1/attendance/daily's `missing` (gateway/domain/attendance.py)
    "missing_punch": {
        "in": "缺签到",
        "out": "缺签退",
        "out between two ins": "两次签到之间缺签退",
        "in between two outs": "两次签退之间缺签到",
    },
    "route": {
        "GET /api/v1/attendance/posts": "各窗口岗位：谁在岗、从何时起",
        "GET /api/v1/attendance/daily": "按人员：首次签到、最后签退、迟到、早退、缺卡",
        "GET /api/v1/attendance/daily/export": "一天的考勤（按人员）导出为 CSV 或 XLSX 文件",
    },
}
# What its wall fragment (pages/posts.js) shows: key -> (中文, English).
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "posts_legend": (
        "无人：暂时无人在岗 · 空岗：工作时间无人超过规定时长",
        "vacant: nobody there now · empty post: nobody for longer than allowed in working time",
    ),
}
# What its alerts say (Condition.rule -> template; Kind.summaries).
SUMMARIES: dict[str, Entry] = {
    "post_empty": Entry("空岗：窗口[ {window} ][已 {minutes} 分钟]无人在岗[（{staff}）]"),
}
