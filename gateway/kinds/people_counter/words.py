"""This kind's words in the catalogue (gateway/i18n/catalogue.py): its error codes and its values."""

from __future__ import annotations

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
