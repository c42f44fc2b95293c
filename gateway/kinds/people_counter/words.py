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
    },
}
# What its health problems say (Problem.code; the device's fault text as the vendor sends it).
SUMMARIES: dict[str, Entry] = {
    "zone_over_capacity": Entry("[{zone} ]人数超出容量[：{occupancy} / {capacity} 人]"),
    "occupancy_suspect": Entry("[{zone} ]的计数可疑[（{why}）]"),
    "sensor_fault": Entry("传感器故障[：{fault}]"),
}
