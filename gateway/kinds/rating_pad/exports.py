"""The rating figures and the 差评 work orders the manager page shows, as a file (导出): CSV or XLSX
(gateway/api/export.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gateway.api.deps import RoleDep, ViewDep
from gateway.api.export import XLSX, Column, Format, export, local_time
from gateway.api.routes.period import ISO_PATTERN, IsoDate
from gateway.i18n.catalogue import label
from gateway.kinds.rating_pad.ratings_api import By, summary_of
from gateway.kinds.rating_pad.workorders_api import State, WindowQuery, orders_of

router = APIRouter(tags=["ratings"])

COLUMNS = (
    Column("分组"),
    Column("已评", "int"),
    Column("未评", "int"),
    Column("评价率", "percent"),
    Column("好评率", "percent"),
    Column("差评率", "percent"),
    Column("平均分", "float"),
    Column("差评原因"),
)
ORDER_COLUMNS = (
    Column("工单号", "int"),
    Column("状态"),
    Column("已超期"),
    Column("期限", "datetime"),
    Column("窗口"),
    Column("工号"),
    Column("评分", "int"),
    Column("原因"),
    Column("办件号"),
    Column("评价时间", "datetime"),
)
GROUP_NAMES = {"window": "窗口", "staff": "人员", "item": "事项", "zone": "区域", "day": "日期", "line": "队列"}


def reasons(codes: list[str]) -> str:
    return "、".join(label("bad_reason", r) for r in codes)


def order_row(o: dict[str, Any]) -> list[Any]:
    return [
        o["id"],
        label("workorder_state", o["state"]),
        "是" if o["overdue"] else "",
        local_time(o["deadline"]),
        o["window"],
        o["staff_id"],
        o["score"],
        reasons(o["reasons"]),
        o["case_id"],
        local_time(o["rated_at"]),
    ]


def row(name: str, f: dict[str, Any]) -> list[Any]:
    why = "、".join(f"{label('bad_reason', k)} {n}" for k, n in f["bad_reasons"].items())
    return [name, f["rated"], f["unrated"], f["rating_rate"], f["good_rate"], f["bad_rate"], f["mean"], why]


@router.get(
    "/ratings/summary/export",
    summary="Rating figures for a period, by group, as a file: CSV or XLSX (the manager page's 导出)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the whole hall, then a row per group"},
        404: {"description": "this hall has no rating pads"},
    },
)
async def summary_export(
    view: ViewDep,
    role: RoleDep,
    by: By | None = None,
    start: Annotated[str | None, Query(pattern=ISO_PATTERN, description="as /ratings/summary")] = None,
    end: Annotated[str | None, Query(pattern=ISO_PATTERN, description="as /ratings/summary")] = None,
    date: Annotated[IsoDate | None, Query(description="one day (instead of start/end)")] = None,
    window: str | None = None,
    format: Format = "csv",
) -> Response:
    s = summary_of(view, role, by, start, end, date, window)
    rows = [row("全部", s["total"]), *(row(g["key"], g) for g in s["groups"])]
    title = f"评价统计_按{GROUP_NAMES[by]}" if by else "评价统计"
    return export(f"{title}_{(s['start'] or '')[:10]}", format, COLUMNS, rows)


# Before /workorders/{order_id} (api.py includes this router first): "export" is no order's id.
@router.get(
    "/workorders/export",
    summary="差评 work orders, filtered as /workorders, as a file: CSV or XLSX (the manager page's 导出)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "one row per order, newest first"},
        404: {"description": "this hall has no rating pads"},
    },
)
async def workorders_export(
    view: ViewDep,
    _: RoleDep,
    state: State | None = None,
    overdue: bool | None = None,
    window: WindowQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    format: Format = "csv",
) -> Response:
    rows = [order_row(o) for o in orders_of(view, state, overdue, window, limit, None)]
    return export("差评整改工单", format, ORDER_COLUMNS, rows)
