"""The gateway's own words in Chinese: its error codes (what happened, what to do next) and the
labels of the values its API returns (states, severities, alert kinds, roles). A kind's own codes
and values are in its package's `words.py` (collected by gateway/i18n/catalogue.py).

A template's `[...]` part names the error's specifics (`{slot}`, `{role}`); it is left out when
the error does not carry them (gateway/i18n/entry.py)."""

from __future__ import annotations

from gateway.i18n.entry import Entry

ADMIN = "请联系本厅系统管理员"

ERRORS: dict[str, Entry] = {
    # who is calling
    "unauthenticated": Entry("未登录：请求没有带令牌", "请先登录，或在请求头中加上 Authorization: Bearer <令牌>"),
    "bad_token": Entry("令牌无效：本厅没有配置这个令牌", f"请检查令牌是否输入完整；令牌由系统管理员配置，{ADMIN}"),
    "forbidden": Entry(
        "无权执行此操作[：当前角色为{role}]",
        "[需要以下角色之一：{roles}；]请由有权限的人员操作，或联系管理员调整角色",
    ),
    "forbidden/kiosk": Entry("取件机令牌只能用于本柜的取件", "请在取件柜的取件机上操作"),
    "forbidden/appeal_own": Entry("只能对本人的违规记录提出申诉", "请使用关联本人工号的令牌或账号，或请值班长代为登记"),
    "forbidden/named_filter": Entry(
        "只有值班长和主任可以按人员查询违规台账", "去掉人员条件查看（姓名已遮盖），或查看本人的记录"
    ),
    "forbidden/notice_own": Entry("只能由被通知人本人签收整改通知单", "请被通知人使用关联本人工号的令牌或账号签收"),
    # signing in with a named account (gateway/signin/)
    "signin_failed": Entry("登录名或密码不正确", f"请检查后重试；连续输错多次会被暂时锁定。忘记密码{ADMIN}重设"),
    "signin_locked": Entry(
        "登录失败次数过多，已暂时锁定[，请于 {until}（约 {minutes} 分钟后）再试]",
        f"请到时再试；忘记密码{ADMIN}重设",
    ),
    "token_locked": Entry(
        "令牌输错次数过多，本机已暂时锁定[，请约 {minutes} 分钟后再试]", "请到时再试，并核对令牌是否输入完整"
    ),
    "account_disabled": Entry("账号[ {name} ]已停用", f"{ADMIN}启用账号"),
    "session_ended": Entry("登录已失效（已退出，或账号已变更）", "请重新登录"),
    "session_ended/idle": Entry("长时间未操作，登录已过期[（{hours} 小时）]", "请重新登录"),
    "session_ended/absolute": Entry("登录时间已到上限，登录已过期[（{hours} 小时）]", "请重新登录"),
    "signin_unavailable": Entry("本网关未启用账号登录", "请使用令牌登录，或联系系统管理员"),
    # what was sent
    "invalid_request": Entry(
        "请求内容有误[：{field}]",
        "请按接口文档（/docs）修改后重试",
    ),
    "idempotency_key_required": Entry(
        "命令缺少 Idempotency-Key 请求头", "请为每个命令生成一个唯一的键（如 UUID）放在 Idempotency-Key 请求头中"
    ),
    "idempotency_key_reused": Entry("这个 Idempotency-Key 已用于另一个请求", "请为新的命令使用新的 Idempotency-Key"),
    "not_found": Entry("没有这个地址[：{path}]", "请在 /docs 查看可用的接口"),
    "method_not_allowed": Entry("此地址不支持该请求方法[（允许：{allow}）]", "请使用 Allow 响应头列出的方法"),
    "too_large": Entry("请求内容过大[（超过 {limit} 字节）]", "请缩小请求内容后重试"),
    "headers_too_large": Entry("请求头过大[（超过 {limit} 字节）]", "请减少或缩短请求头后重试"),
    "http_error": Entry("请求无法处理", "请按接口文档（/docs）检查请求"),
    # the gateway itself
    "internal": Entry("网关内部错误，详情已记入网关日志", f"请稍后重试；如果反复出现，{ADMIN}并提供发生时间"),
    "state_db_unwritable": Entry(
        "网关无法写入状态数据库，本次操作未执行",
        f"请{ADMIN.removeprefix('请')}检查网关所在磁盘（空间、权限）；/readyz 显示同样的状态",
    ),
    "commands_unavailable": Entry("本网关未启用命令功能，无法下发命令", ADMIN),
    "audit_unavailable": Entry("审计记录暂时无法保存，命令未发送", "请稍后重试；网关恢复向数据库发送记录后即可执行"),
    # what the API looks up
    "unknown_device": Entry("本厅没有这个设备[：{device}]", "请在设备列表中选择设备"),
    "unknown_alert": Entry("没有这条告警[：#{alert}]", "请刷新告警列表"),
    "staff_invalid": Entry("人员信息有误[：{problems}]", "请按提示修改后重试；人员名册与配置文件的 staff 一同检查"),
    "alert_ended": Entry("这条告警已经[{state}]结束，无需处理", "请刷新告警列表"),
    "resolves_itself": Entry(
        "这条告警[（{rule}）]会在条件消除后自动结束，不能手动关闭",
        "请先“确认”告警，并排除其原因（设备恢复后告警自动结束）",
    ),
    # a command on its way to a device
    "bad_parameter": Entry("命令参数不符合设备配置[：{device}]", "请检查格口/柜门号是否在设备范围内"),
    "busy": Entry("[{part} ]正在执行另一个命令", "请等上一个命令完成后重试"),
    "device_offline": Entry(
        "设备[ {device} ]离线，命令未发送", "请在“设备运维”页面查看设备状态，或联系运维人员检查设备电源和网络"
    ),
    "broker_unavailable": Entry("消息服务器不可用，命令未发送", f"请稍后重试；如果持续出现，{ADMIN}检查 MQTT 服务"),
    "no_answer": Entry("设备[ {device} ]未应答", "请在“设备运维”页面查看设备状态后重试；命令结果见操作审计"),
    "already_open": Entry("[{part} ]已经是打开的，未发送命令", None),
    "jammed": Entry("[{part} 的]锁未能打开（锁卡住）", "请联系运维人员检修该锁；告警页面会显示此故障"),
    "refused": Entry("设备拒绝了命令[（{part}）]", "请在操作审计中查看原因，或联系运维人员"),
    "failed": Entry("命令执行失败[（{part}）]", "请在操作审计中查看原因，或联系运维人员"),
    "timeout": Entry(
        "设备未在规定时间内确认命令[（{part}）]", "请查看操作审计：设备稍后应答时结果会补记；确认后再决定是否重试"
    ),
    "offline": Entry("设备[ {device} ]离线，命令未发送", "请在“设备运维”页面查看设备状态"),
    "unavailable": Entry("命令无法发送", "请稍后重试"),
    # the discipline ledger (违规台账, gateway/features/discipline/)
    "no_ledger": Entry("本网关未启用违规台账", ADMIN),
    "unknown_violation": Entry("没有这条违规记录[：#{violation}]", "请刷新违规台账"),
    # operations reports (gateway/features/reports/)
    "no_reports": Entry("本网关未启用运行情况报告", ADMIN),
    "bad_kind": Entry("报告类型不对[：{period}]", "报告类型为 day（日）、week（周）、month（月）、quarter（季）"),
    "bad_period": Entry("报告期间的格式不对[：{period}]", "[可用的格式为 {forms}]"),
    "future_period": Entry("报告期间尚未开始[：{period}]", "请选择今天或以前的期间[；可用的格式为 {forms}]"),
    "before_data": Entry(
        "报告期间早于本厅最早的数据[：{period}]", "请选择本厅开始记录以后的期间[；可用的格式为 {forms}]"
    ),
    "unknown_report": Entry("没有这份报告[：{report}]", "请刷新报告列表"),
    "report_not_ready": Entry(
        "报告[#{report}]没有此格式的文件[：{fmt}][（状态：{status}）]",
        "生成中的报告请稍后再取；失败的报告请查看原因后重新生成",
    ),
    "violation_state": Entry(
        "违规记录[#{violation}]当前不能执行这一步[（{action}）]",
        "违规记录按 待确认 → 已确认/已撤销 → 已申诉 → 已裁定 的顺序处理；请刷新查看当前状态",
    ),
    "reason_required": Entry("请填写理由[（{action}）]", "确认、撤销和裁定须写明理由，申诉须写明申诉说明"),
    "outcome_required": Entry("裁定须选择结果", "请选择 维持（upheld）或 撤销（overturned）"),
    # what patrol staff record (巡查): the record, its photo, the 整改通知单
    "unknown_staff": Entry(
        "人员名册中没有这个工号[：{staff}]",
        "请核对工号；人员名册在配置的 staff 中维护，管理员也可在此修改（POST /api/v1/staff）",
    ),
    "unknown_violation_kind": Entry(
        "违规类型不对[：{kind}]", "请选择 工作准备不到位、工作时间离岗超时、串岗聊天、违规使用手机 或 其他"
    ),
    "photo_too_large": Entry("照片过大[（超过 {limit} 字节）]", "照片不能超过 2 MB，请压缩或降低分辨率后重新上传"),
    "photo_type": Entry("不支持这种图片格式[（{type}）]", "只接受 JPEG 或 PNG 照片，请转换格式后重新上传"),
    "photo_not_image": Entry(
        "上传的文件不是可以打开的照片", "请上传完整的 JPEG 或 PNG 照片（文件可能已损坏或只传了一部分）"
    ),
    "photo_form": Entry("照片上传格式有误", "请以 multipart/form-data 上传一个名为 photo 的文件"),
    "photo_exists": Entry("这条违规记录[#{violation}]已有照片", "每条记录只保存一张照片；如需更换请联系管理员"),
    "no_photo": Entry("这条违规记录[#{violation}]没有照片", "请在违规台账中查看其他证据"),
    "notice_state": Entry(
        "违规记录[#{violation}]尚未确认，不能下发整改通知单", "请先确认这条违规记录（已撤销或申诉被撤销的不下发）"
    ),
    "notice_exists": Entry("违规记录[#{violation}]已下发过整改通知单", "请在整改通知单列表中查看"),
    "unknown_notice": Entry("没有这张整改通知单[：#{notice}]", "请刷新整改通知单列表"),
    "notice_signed": Entry("整改通知单[#{notice}]已签收", "无需重复签收"),
    # the district's view (gateway/district/)
    "unknown_site": Entry("区里没有这个站点[：{site}]", "请在站点总览中选择站点；站点在 district.yaml 的 sites 中配置"),
    "district_store_unreachable": Entry(
        "区级时序库无法访问，数据暂时无法显示", "请稍后重试；如果持续出现，请检查 district.yaml 的 store 和时序库服务"
    ),
}

# What a device's health and the alerts say (Problem.code, Condition.rule, the offline reasons of
# gateway/domain/health.py), each specific in `[...]`; the English stays in the logs and tests.
SUMMARIES: dict[str, Entry] = {
    # why a device is offline
    "never_seen": Entry("启动后从未收到它的消息"),
    "said_offline": Entry("设备报告离线[（{reason}）]"),
    "silent": Entry("[已 {seconds} 秒]未收到任何消息（心跳中断）"),
    "no_answer": Entry("连续[ {polls} 次]轮询无应答[：{error}]"),
    # why an online device is degraded
    "clock_drift": Entry("时钟偏差[ {drift} 秒]"),
    "weak_signal": Entry("信号弱[（{rssi} dBm）]"),
    "slow": Entry("响应慢[（每次轮询 {ms} 毫秒）]"),
    "flapping": Entry("[{minutes} 分钟内]离线[ {times} 次]"),
    "low_battery": Entry("电量低[（{battery}%）]"),
    "door_left_open": Entry("[{part} ]未关闭[，已 {seconds} 秒]"),
    "jammed_lock": Entry("[{part} ]锁卡住"),
    # the alerts of devices and of the gateway itself (gateway/alerts/rules.py)
    "device_offline": Entry("[{device} ]离线[：{reason}]"),
    "device_problem": Entry("[{device}：][{problem}]"),
    "outbox_dropping": Entry("待发数据已满，正在丢弃记录[（累计丢弃 {dropped} 条）]"),
    "store_unwritable": Entry("待发数据无法写入状态数据库[：{error}]"),
    "sink_down": Entry("InfluxDB 数据库[已 {seconds} 秒]无法连接[：{error}]"),
    "phone_not_in_slot": Entry("[{staff} ]已签到，但手机未放入[ {device}][ {part}][（已 {minutes} 分钟）]"),
    "command_unanswered": Entry("[{device} ][{part} 的]命令[“{action}”]未在规定时间内得到确认[（命令 {cmd_id}）]"),
    "violation_strikes": Entry("[{staff} ]在[ {period} ]已确认违规[ {count} 次][（上限 {limit} 次）][：{listed}]"),
    "robot_failing": Entry("[{department} ]的通知机器人已连续失败[ {attempts} 次][：{error}]，通知在队列中等待重发"),
    "notice_overdue": Entry("整改通知单[ #{notice}][（违规 #{violation}）]已过签收期限[，{staff} ]仍未签收"),
}

# What a code means when the catalogue has no entry for it (a device's own error text).
UNKNOWN = Entry("请求未能完成[（{code}）]", "请查看说明（detail）或联系系统管理员")

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "technician": "运维人员",
        "staff": "窗口工作人员",
        "duty_manager": "值班长",
        "manager": "管理人员",
        "admin": "系统管理员",
        "viewer": "查看者",
        "kiosk": "取件机",
    },
    "severity": {"info": "提示", "warning": "警告", "critical": "严重"},
    # operations reports (GET /api/v1/reports, .../schedule): kind, state, a delivery's channel and state
    "report_kind": {"day": "日报", "week": "周报", "month": "月报", "quarter": "季报", "range": "区间报告"},
    "report_status": {"rendering": "生成中", "done": "已生成", "failed": "生成失败"},
    "report_run": {"making": "生成中", "done": "已生成", "failed": "失败待重试", "skipped": "已跳过"},
    "report_channel": {"robot": "工作群", "email": "邮件"},
    "report_delivery": {"queued": "待发送", "retrying": "发送失败，重试中", "sent": "已发送"},
    "health": {"ok": "正常", "degraded": "异常", "offline": "离线"},
    # A device's link (GET /api/v1/devices/{id} `link.state`): its broker connection or bus answers.
    "link_state": {"up": "连通", "down": "消息服务器未连接", "no_answer": "轮询无应答"},
    "alert_state": {"open": "未处理", "acknowledged": "已确认", "resolved": "已恢复", "closed": "已关闭"},
    "alert": {
        "device_offline": "设备离线",
        "store_unwritable": "状态数据库无法写入",
        "outbox_dropping": "待发数据被丢弃",
        "sink_down": "数据库连接中断",
        "clock_drift": "设备时钟偏差",
        "jammed_lock": "锁卡住",
        "door_left_open": "门长时间未关",
        "low_battery": "电量低",
        "flapping": "频繁上下线",
        "slow": "响应慢",
        "weak_signal": "信号弱",
        "phone_not_in_slot": "手机未入柜",
        "opened_without_command": "无命令开门",
        "command_unanswered": "命令未确认",
        "violation_strikes": "违规累计达到上限",
        "robot_failing": "科室通知机器人发送失败",
        "notice_overdue": "整改通知单逾期未签收",
    },
    # the discipline ledger (违规台账)
    "violation_kind": {
        "unready": "工作准备不到位",
        "away": "工作时间离岗超时",
        "phone": "违规使用手机",
        "chat": "串岗聊天",
        "other": "其他",
    },
    "violation_state": {
        "detected": "待确认",
        "confirmed": "已确认",
        "dismissed": "已撤销",
        "appealed": "已申诉",
        "decided": "已裁定",
    },
    "violation_action": {"confirm": "确认", "dismiss": "撤销", "appeal": "申诉", "decide": "裁定"},
    "notice_state": {"open": "待签收", "overdue": "逾期未签收", "acknowledged": "已签收"},
    "violation_outcome": {"upheld": "维持", "overturned": "撤销"},
    # the district's view (gateway/district/): a site's level, state and why it is offline
    "site_level": {"centre": "区级中心", "town": "镇街中心", "village": "村（社区）站点"},
    "site_state": {"online": "在线", "offline": "离线"},
    "offline_reason": {"no_data": "从未收到数据", "silent": "数据中断", "said_offline": "网关已下线"},
    # a violation's trail (violation_steps.action) and evidence (the device events it came from)
    "violation_step": {
        "detect": "设备发现",
        "record": "巡查登记",
        "confirm": "确认",
        "dismiss": "撤销",
        "appeal": "申诉",
        "decide": "裁定",
        "photo": "上传照片",
        "notice": "下发整改通知单",
        "acknowledge": "签收整改通知单",
    },
    "violation_evidence": {
        "punch": "打卡",
        "phone_out": "手机取出",
        "unlock": "批准开锁",
        "opening": "开窗时间",
        "patrol": "巡查所见",
    },
    "punch_direction": {"in": "签到", "out": "签退"},
    "strike_standing": {"reached": "已达上限", "near": "接近上限", "below": "未达上限"},
    "ledger_read": {
        "ledger": "台账",
        "own": "本人记录",
        "record": "单条记录",
        "photo": "照片",
        "strikes": "累计次数",
        "summary": "按人员统计",
        "notices": "整改通知单",
        "export": "导出",
        "departments": "科室统计",
    },
    # Each route's summary in /docs, beside its English one (gateway/api/app.py): "METHOD path".
    "route": {
        "GET /healthz": "存活检查",
        "GET /readyz": "就绪检查：消息服务器和存储可用、各部分在运行",
        "GET /metrics": "Prometheus 监控指标",
        "GET /api/v1/alerts": "告警列表：未结束的在前，其后是最近结束的",
        "POST /api/v1/alerts/{alert_id}/ack": "确认告警（附备注）",
        "POST /api/v1/alerts/{alert_id}/close": "关闭无法自动消除的告警（如柜门被强行打开），附备注",
        "GET /api/v1/audit": "操作审计：每条命令及其结果，最新的在前",
        "GET /api/v1/devices": "设备列表及其状态，可筛选",
        "GET /api/v1/devices/unknown": "未配置的设备：在本厅主题下上报但不在配置中",
        "GET /api/v1/devices/{device_id}": "单台设备：状态历史和错误计数",
        "GET /api/v1/kinds": "已注册的设备类型及其在页面上的内容",
        "GET /api/v1/features": "跨设备类型的功能（违规台账）及其在页面上的内容",
        "GET /api/v1/me": "当前登录的人（或令牌）、角色和可调用的接口",
        "POST /api/v1/session": "用登录名和密码登录（会话保存在 Cookie 中）",
        "DELETE /api/v1/session": "退出登录：会话立即结束",
        "GET /api/v1/quarantine": "隔离消息：无法解码的消息，最新的在前",
        "GET /api/v1/words": "词表：错误说明、状态名称、页面用语",
        "GET /api/v1/staff": "人员名册：工号、姓名、科室、窗口、岗位（公示屏只见遮掩后的姓名）",
        "GET /api/v1/violations": "违规台账，最新的在前，可按时段、状态、人员、科室筛选",
        "GET /api/v1/violations/exposure": "大厅公示：今日已确认的违规（姓名按大屏规则遮挡，不含工号）",
        "GET /api/v1/violations/strikes": "本周期内每人已确认的违规次数及已发出的累计告警",
        "POST /api/v1/reports": "生成运行情况报告（日、周、月、季）",
        "POST /api/v1/staff": "增加、修改或停用（active: false）一名人员，按配置文件的规则检查并记入审计",
        "GET /api/v1/reports": "已生成的运行情况报告，新的在前",
        "GET /api/v1/reports/schedule": "定时报告的下次与最近一次生成",
        "GET /api/v1/reports/{ref}": "一份报告的状态；加 .json、.xlsx 或 .pdf 下载其文件",
        "POST /api/v1/violations/{violation_id}/confirm": "确认一条检测到的违规，附理由",
        "POST /api/v1/violations/{violation_id}/dismiss": "撤销一条检测到的违规，附理由",
        "POST /api/v1/violations/{violation_id}/appeal": "当事人对已确认的违规提出申诉，附说明",
        "POST /api/v1/violations/{violation_id}/decide": "裁定申诉：维持或撤销，附理由",
        "POST /api/v1/violations": "登记巡查发现的违规（待确认），可附照片",
        "POST /api/v1/violations/{violation_id}/photo": "为违规记录上传一张照片（JPEG 或 PNG，不超过 2 MB，去除 EXIF）",
        "GET /api/v1/violations/{violation_id}/photo": "查看违规记录的照片",
        "GET /api/v1/violations/summary": "时段内已确认违规的数量：按科室、人员或类型",
        "POST /api/v1/violations/{violation_id}/notice": "根据已确认的违规下发整改通知单，附签收期限",
        "GET /api/v1/notices": "整改通知单，最新的在前（工作人员只看本人的）",
        "POST /api/v1/notices/{notice_id}/ack": "被通知人本人签收整改通知单",
        "GET /api/v1/violations/mine": "本人的违规记录及处理经过（窗口工作人员本人）",
        "GET /api/v1/violations/export": "按当前筛选条件导出违规台账（XLSX 或 CSV）",
        "GET /api/v1/violations/departments": "按科室和人员统计本周期已确认违规，标出已达或接近上限的人员",
        "GET /api/v1/violations/reads": "违规台账的查阅记录：谁在何时查看了哪些记录",
        "GET /api/v1/violations/{violation_id}": "一条违规记录：证据、处理经过、照片与整改通知单",
    },
    # Why a message was quarantined (GET /api/v1/quarantine `reason`, drivers/profiles/errors.py).
    "quarantine": {
        "not_json": "不是 JSON",
        "too_large": "消息过大",
        "too_deep": "嵌套过深",
        "bad_text": "文字无效",
        "bad_type": "字段类型不对",
        "out_of_range": "数值超出范围",
        "unknown_value": "未知的取值",
        "missing_field": "缺少字段",
        "unknown_type": "未知的事件类型",
        "unknown_channel": "未知的通道",
        "bad_time": "时间无效",
        "bad_seq": "序号无效",
        "internal": "网关内部错误",
    },
    "outcome": {
        "confirmed": "已确认",
        "failed": "失败",
        "timeout": "超时",
        "refused": "未执行",
        "denied": "无权限",
        "opened_late": "超时后已打开",
        "failed_late": "超时后失败",
    },
}

# What is wrong with a field, by pydantic's error type (FastAPI's 422): `{name}` from the error's ctx.
PROBLEMS: dict[str, str] = {
    "missing": "必须填写",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "string_type": "应为文字",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "date_parsing": "应为日期（如 2026-11-23）",
    "date_type": "应为日期（如 2026-11-23）",
    "date_from_datetime_parsing": "应为日期（如 2026-11-23）",
    "date_from_datetime_inexact": "应为日期，不带时刻（如 2026-11-23）",
    "datetime_parsing": "应为时间（如 2026-11-23T09:00）",
    "datetime_type": "应为时间（如 2026-11-23T09:00）",
    "datetime_from_date_parsing": "应为时间（如 2026-11-23T09:00）",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "dict_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "extra_forbidden": "不是可接受的字段",
    "value_error": "取值无效",
}
PROBLEM_UNKNOWN = "取值无效"
