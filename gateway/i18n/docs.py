"""The words of `/docs` beyond each route's summary: what each tag groups (中文 / English) and each
operation's description, made from what the route declares (its roles, its Chinese label) beside
the English of its docstring. gateway/api/app.py puts them into the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.kinds.registry import KINDS

# tag -> (中文, English): the groups of routes in /docs.
TAGS: dict[str, tuple[str, str]] = {
    "system": ("系统：存活与就绪、监控指标、登录、当前用户、词表、人员名册", "health, metrics, sign-in, words, staff"),
    "devices": ("设备：列表、状态历史、未配置设备、隔离消息", "devices, their history, unknown devices, quarantine"),
    "alerts": ("告警：列表、确认、关闭", "alerts: list, acknowledge, close"),
    "commands": ("命令：开柜、取件、审计", "commands: unlock, pickup, audit"),
    "occupancy": ("客流：各区域人数与历史", "occupancy of the zones and its history"),
    "ratings": ("评价：好评率、差评工单、导出", "ratings, work orders, exports"),
    "discipline": ("纪律：违规台账、巡查记录、整改通知、大厅公示", "the discipline ledger, patrols, notices"),
    "reports": ("运行情况报告：生成与下载", "operations reports"),
}


def tag_list() -> list[dict[str, str]]:
    """FastAPI's `openapi_tags`: each tag with its description, Chinese first; a kind whose routes
    carry its own name as their tag is described by its label (its Chinese name) and description."""
    tags = {tag: f"{zh} / {en}" for tag, (zh, en) in TAGS.items()}
    for kind in KINDS.values():
        tags.setdefault(kind.name, f"{kind.label or kind.name}的接口 / {kind.description}")
    return [{"name": tag, "description": said} for tag, said in tags.items()]


def operation_description(label: str | None, roles: Iterable[str], role_words: dict[str, str], english: str) -> str:
    """The route's Chinese label and who may call it, then the English of its docstring."""
    said = [f"{label}。" if label else "本接口无中文说明。"]
    names = [f"{role_words.get(r, r)}（{r}）" for r in roles]
    said.append(f"可调用的角色：{'、'.join(names)}，其他角色得到 403。" if names else "无需特定角色。")
    return "".join(said) + (f"\n\n{english}" if english else "")
