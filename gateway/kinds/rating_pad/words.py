"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

ERRORS: dict[str, Entry] = {
    "no_rating_pads": Entry("本厅未配置评价器", "请联系系统管理员在配置文件中添加评价器"),
    "no_visits": Entry(
        "本厅未接入排队叫号系统，无法按办件计算评价率或按队列分组",
        "请按窗口、事项或日期查看；接入排队叫号系统后可按队列查看",
    ),
    "unknown_workorder": Entry("没有这张工单[：#{order}]", "请刷新工单列表"),
    "forbidden/managers_alert": Entry(
        "差评告警由值班长或管理人员在差评工单中处理[，{role}不能关闭]",
        "请在“管理”页面的差评工单中回访、整改后关闭；运维人员可以“确认”告警",
    ),
    "bad_transition": Entry(
        "工单[#{order}]当前不能执行这一步[（{action}）]",
        "工单按 待处理 → 已回访 → 已整改/已申诉 → 已关闭 的顺序处理；请刷新工单查看当前状态",
    ),
}
# A 差评's alert is closed by those who handle its work order (Kind.closed_by).
CLOSED_BY: dict[str, tuple[str, ...]] = {"bad_rating": ("duty_manager", "manager")}
LABELS: dict[str, dict[str, str]] = {
    "workorder_state": {
        "open": "待处理",
        "called_back": "已回访",
        "rectified": "已整改",
        "appealed": "已申诉",
        "closed": "已关闭",
    },
    "workorder_action": {"open": "开单", "callback": "回访", "rectify": "整改", "appeal": "申诉", "close": "关闭"},
    "bad_reason": {
        "attitude": "服务态度",
        "slow": "办理慢",
        "unclear": "告知不清",
        "rejected": "未予办理",
        "other": "其他",
    },
    "route": {
        "GET /api/v1/ratings/summary": "一段时间内的评价统计，按分组",
        "GET /api/v1/ratings/summary/export": "评价统计导出为 CSV 或 XLSX 文件",
        "GET /api/v1/ratings/bad": "差评及其整改状态，最新的在前（大厅公示用，不含人员、窗口和办件号）",
        "GET /api/v1/ratings": "评价和超时未评记录，最新的在前，分页",
        "GET /api/v1/workorders": "差评整改工单，最新的在前，分页",
        "GET /api/v1/workorders/export": "差评整改工单（按状态、窗口、超期筛选）导出为 CSV 或 XLSX 文件",
        "GET /api/v1/workorders/{order_id}": "单张工单及其处理记录",
        "POST /api/v1/workorders/{order_id}/{action}": "推进工单：回访、整改、申诉或关闭，附备注",
    },
    "alert": {"bad_rating": "差评", "bad_ratings_window": "窗口差评偏多", "workorder_overdue": "工单超期"},
}
# What its page fragments (pages/rated_today.js on the wall, pages/manager.js) show: key -> (中文, English).
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "rating_service_item": ("办理事项", "Service"),
    # what 评价率 is counted against: the visits served (a queue system counts them), else the pads'
    # invitations to rate (邀评); short, for one line under the figure in a third of a card
    "rating_basis_visits": ("按办件计", "of visits served"),
    "rating_basis_prompts": ("按邀评计", "of prompts"),
    "rating_bad_handling": ("差评处理", "Bad ratings: handling"),
    "rating_overdue_n": ("{n} 件超期", "{n} overdue"),
    # 差评 handling, as the public reads a work order's state
    "rating_handling_open": ("已派单", "dispatched"),
    "rating_handling_called_back": ("已回访 · 整改中", "called back, rectifying"),
    "rating_handling_rectified": ("已整改", "rectified"),
    "rating_handling_appealed": ("申诉中", "appealed"),
    "rating_handling_closed": ("已办结", "closed"),
    "wo_all_states": ("全部状态", "Any state"),
    "wo_window_ph": ("窗口号", "Window"),
    "wo_overdue_only": ("只看超期", "Overdue only"),
    "wo_history": ("处理记录", "History"),
    # 回访满意度: what the citizen said on the call-back (the reports' 整改满意度)
    "wo_satisfaction": ("市民满意度", "Citizen's satisfaction"),
    "wo_satisfaction_unsaid": ("未询问", "Not asked"),
    "wo_satisfied": ("满意", "Satisfied"),
    "wo_dissatisfied": ("不满意", "Dissatisfied"),
    "good_thresholds": (
        "好评率：≥ {ok} 绿色，< {low} 红色，其间黄色",
        "Good rate: ≥ {ok} green, < {low} red, amber between",
    ),
}
# What its alerts say (Condition.rule -> template; Kind.summaries).
SUMMARIES: dict[str, Entry] = {
    "bad_rating": Entry(
        "差评[ {score} 分]：窗口[ {window}][，{staff}][，事项 {item}][，原因 {reasons}][，办件号 {case_id}]"
    ),
    "workorder_overdue": Entry(
        "差评工单[ #{order}][（窗口 {window}）][，办件号 {case_id}]已超过处理期限[，仍为“{order_state}”]"
    ),
    "bad_ratings_window": Entry("窗口[ {window} ]今日差评[已 {n} 条]"),
}
