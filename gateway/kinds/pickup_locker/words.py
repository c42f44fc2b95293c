"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

STAFF = "请联系大厅工作人员取件"

ERRORS: dict[str, Entry] = {
    "forbidden/other_locker": Entry("这台取件机只能操作它所属的取件柜[ {locker}]", "请在物品所在取件柜的取件机上取件"),
    "unknown_locker": Entry("本厅没有这个取件柜[：{locker}]", "请在设备列表中选择取件柜"),
    "unknown_door": Entry("取件柜没有这个柜门[：{door}]", "请选择取件柜范围内的柜门"),
    "door_occupied": Entry("[{door} 号]柜门里还有未取走的物品", "请选择另一个空闲的柜门"),
    "door_not_empty": Entry("[{door} 号]柜门的物品传感器检测到有东西", "请先检查并清空该柜门，或选择另一个柜门"),
    "already_deposited": Entry(
        "这次存件已经完成，取件码只显示一次", "取件码只保存了摘要，无法再次显示；如需新取件码，请重新存件"
    ),
    "no_free_code": Entry("暂时无法生成新的取件码：未取物品过多", "请先处理已过期的物品后重试"),
    "wrong_code": Entry("取件码不正确[，还可以再试 {left} 次]", "请核对取件码；多次输错后将暂时锁定"),
    "code_expired": Entry("取件码已过期", STAFF),
    "locked_out": Entry("取件码输错次数过多，已暂时锁定", "请[在 {wait} 秒后]重试，或联系大厅工作人员"),
}
LABELS: dict[str, dict[str, str]] = {
    "item_state": {"waiting": "待取", "expired": "已过期", "opened": "已开门", "collected": "已取走"},
    "part": {"door": "柜门"},
    "route": {
        "POST /api/v1/lockers/{locker}/doors/{door}/deposit": "存件：打开空闲柜门并生成取件码",
        "POST /api/v1/lockers/{locker}/pickup": "取件机：凭取件码打开物品所在柜门",
        "GET /api/v1/lockers/{locker}/items": "取件柜中的物品：待取、已过期、已开门、已取走",
    },
    "alert": {"item_expired": "物品超期未取", "board_fault": "控制板故障"},
}
# What its health problems say (Problem.code; the device's fault text as the vendor sends it).
SUMMARIES: dict[str, Entry] = {
    "item_expired": Entry(
        "[{device} ][{door} 号柜门的]物品[“{item}”][（取件人 {applicant}）]已过取件期限[ {expires}]，仍未取走"
    ),
    "board_fault": Entry("控制板故障[：{fault}]"),
}
# What its page fragment (pages/doors.js) shows: key -> (中文, English).
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "locker_offline": ("离线", "offline"),
    "door_jammed": ("卡住", "jammed"),
    "door_busy": ("该柜门已有物品待取，请选择空闲柜门", "This door holds an item not yet collected: pick a free door"),
    "door_expired": (
        "该柜门的物品已过期未取，请先取出处理，再选择空闲柜门",
        "This door's item has expired: take it out first, or pick a free door",
    ),
    "locker_down": ("取件柜离线，暂时不能存件：请联系运维人员", "The locker is offline: no deposit until it is back"),
    "door_stuck": (
        "该柜门的锁卡住，不能存件：请选择其他柜门并联系运维人员",
        "This door's lock is jammed: pick another door",
    ),
    "print_slip": ("打印取件凭条", "Print the pickup slip"),
    "slip_title": ("取件凭条", "Pickup slip"),
    "new_deposit": ("继续存件", "Another deposit"),
}
