"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

ERRORS: dict[str, Entry] = {
    "no_queue": Entry("本厅未配置排队叫号系统", "请联系系统管理员在配置文件中添加排队叫号系统"),
    "forbidden/queue_staff": Entry(
        "查看工作人员的数字需要值班长或管理人员权限[（当前角色：{role}）]", "请由值班长或管理人员查看"
    ),
}
LABELS: dict[str, dict[str, str]] = {
    "queue_event": {
        "issued": "取号",
        "called": "叫号",
        "started": "开始办理",
        "finished": "办结",
        "transferred": "转办",
        "no_show": "过号",
    },
    "queue_result": {"done": "已办结", "pending_materials": "补正材料", "rejected": "不予受理"},
    "queue_source": {"walk_in": "现场取号", "appointment": "预约"},
    "alert": {"queue_long_wait": "等候过长", "queue_window_idle": "窗口空闲未叫号"},
    "route": {
        "GET /api/v1/queue": "各队列当前情况",
        "GET /api/v1/queue/visits": "一段时间内开始的办件，最早的在前",
        "GET /api/v1/queue/summary": "按分组统计：取号、办结、过号、转办、等候和办理时长",
    },
}
# What its page fragments (pages/waiting.js, pages/day.js) show: key -> (中文, English).
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "queue_now": ("排队等候", "Queues now"),
    "queue_all": ("共", "In all"),
    "queue_waiting": ("当前等候", "Waiting"),
    "people": ("人", "people"),
    "queue_expected": ("预计等候", "Expected wait"),
    "queue_day": ("取号与办结（按取号时段）", "Tickets issued and served (by hour taken)"),
    "queue_tickets": ("号数", "Tickets"),
    "queue_issued": ("取号", "issued"),
    "queue_served": ("办结", "served"),
    "queue_no_shows": ("过号", "no-shows"),
    "queue_wait_mean": ("平均等候（分钟）", "Mean wait (min)"),
    "queue_wait_p90": ("90% 等候（分钟）", "90% wait (min)"),
    "queue_handle_mean": ("平均办理（分钟）", "Mean handling (min)"),
    "queue_handle_p90": ("90% 办理（分钟）", "90% handling (min)"),
}
# What its alerts say (Condition.rule -> template; Kind.summaries): the words alerts.py writes.
SUMMARIES: dict[str, Entry] = {
    "queue_long_wait": Entry("[{line}]最长等候[ {waited} 分钟]，超过[ {limit} 分钟]：请加开窗口或引导分流"),
    "queue_window_idle": Entry(
        "窗口[ {window} ]已[ {minutes} 分钟]未叫号，[{lines} 线有 {people} 人等候：]"
        "请确认窗口是否有人在岗，或把等候的号调往其他窗口"
    ),
}
