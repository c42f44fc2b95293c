"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

from gateway.i18n.entry import Entry

LABELS: dict[str, dict[str, str]] = {
    "alert": {
        "zone_over_capacity": "区域人数超过容量",
        "occupancy_suspect": "人数统计可疑",
        "sensor_fault": "传感器故障",
    },
    "scope": {"zone": "区域", "hall": "全厅"},
    "source": {"influxdb": "时序数据库", "gateway": "网关"},
    "route": {
        "GET /api/v1/occupancy": "各区域当前人数",
        "GET /api/v1/occupancy/hall": "全厅当前人数（按出入口的净流量）",
        "GET /api/v1/occupancy/history": "区域（或全厅）每分钟、每小时或每天的进出和人数",
        "GET /api/v1/occupancy/stream": "人数实时变化（Server-Sent Events）",
        "GET /api/v1/occupancy/history/export": "客流历史导出为 CSV 或 XLSX 文件",
    },
}
# What its wall fragment (pages/zones.js) shows: key -> (中文, English); {z} a zone, {n} people.
PAGE_WORDS: dict[str, tuple[str, str]] = {
    "occ_zones_sum": ("各区合计", "zones together"),
    "occ_from": ("来自计数器", "from counters"),
    "occ_why_clamped": (
        "{z}：记到的离开多于进入，人数按 0 计，多计 {n} 人",
        "{z}: more counted leaving than entering; shown as 0, {n} added",
    ),
    "occ_why_hall_clamped": (
        "全厅：记到的离开多于进入，人数按 0 计，多计 {n} 人",
        "Hall: more counted leaving than entering; shown as 0, {n} added",
    ),
    "occ_why_reset_apart": ("{z}：与全厅不在同一时间清零（{n} 人）", "{z}: reset at another time than the hall ({n})"),
    "occ_why_no_counter": ("{z}：没有计数器，人数未计入", "{z}: no counter, its people are not counted"),
    "occ_why_counter_suspect": (
        "{z}：计数器离线或故障，人数可能不准",
        "{z}: a counter offline or faulty, figures in doubt",
    ),
    "occ_unexplained": ("另有 {n} 人差异原因不明", "{n} more differ for no known reason"),
}
# What its health problems say (Problem.code; the device's fault text as the vendor sends it).
SUMMARIES: dict[str, Entry] = {
    "zone_over_capacity": Entry("[{zone} ]人数超出容量[：{occupancy} / {capacity} 人]"),
    "occupancy_suspect": Entry("[{zone} ]的计数可疑[（{why}）]"),
    "sensor_fault": Entry("传感器故障[：{fault}]"),
}
