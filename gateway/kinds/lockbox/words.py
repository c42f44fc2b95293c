"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

ERRORS: dict[str, Entry] = {
    "unknown_lockbox": Entry("本厅没有这个手机柜[：{device}]", "请在设备列表中选择手机柜"),
    "no_attendance": Entry("本厅没有考勤机，无法知道谁在岗", "请联系系统管理员配置考勤机"),
    "no_slots": Entry("还没有给工作人员分配手机格口", "请联系系统管理员在配置文件 phones.lockboxes 中分配格口"),
    "bad_slot": Entry("手机柜没有这个格口[（{part}）]", "请检查格口号"),
    # Who may open a phone slot, and when (policy.py)
    "forbidden/unlock_in_hours": Entry(
        "工作时间内只有值班长可以开启手机格口[ {slot}][（当前角色：{role}）]",
        "请联系值班长开启；下班时间（[{free}]）本人可以开启",
    ),
    "forbidden/unlock_reason": Entry("工作时间内开启手机格口[ {slot} ]需要填写原因", "请填写开锁原因后重试"),
    "forbidden/unlock_role": Entry(
        "[{role}]不能开启手机格口[ {slot}]",
        "下班时间窗口工作人员可以开启本人的格口；任何时间值班长都可以开启",
    ),
}
LABELS: dict[str, dict[str, str]] = {
    "alert": {"forced_open": "柜门被强行打开"},
    "door": {"open": "门开", "closed": "门关"},
    "part": {"slot": "格口"},
    # GET .../slots `rule`: whether the caller may open the slot now, said before the click
    "unlock_rule": {
        "free": "下班时间，可以开启",
        "with_reason": "工作时间，值班长可以开启，需填写开锁原因",
        "offline": "手机柜离线，无法开启：请联系运维人员",
        "jammed": "格口卡住，无法开启：请联系运维人员检修",
    },
    "route": {
        "GET /api/v1/lockboxes/{device}/slots": "手机柜各格口：门、锁、是否有手机",
        "GET /api/v1/lockboxes/compliance": "在岗人员的手机是否入柜（?missing=true：只列未入柜的）",
        "POST /api/v1/lockboxes/{device}/slots/{slot}/unlock": (
            "开启格口：下班时间本人，值班长任何时间（工作时间需填原因）"
        ),
    },
}
# What its alerts say (Condition.rule -> template; Kind.summaries).
SUMMARIES: dict[str, Entry] = {
    "forced_open": Entry("[{device} ][{part} ]被强行打开（锁着时门被打开）"),
    "opened_without_command": Entry("[{device} ][{part} ]在工作时间内未经批准开锁就被打开"),
}
# What its page fragment (pages/slots.js) shows: key -> (中文, English).
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "cabinet_offline": ("离线", "offline"),
    "slot_jammed": ("卡住", "jammed"),
}
