"""The rating figures the manager page shows, as a file (导出): CSV or XLSX (gateway/api/export.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gateway.api.deps import RoleDep, ViewDep
from gateway.api.export import XLSX, Column, Format, export
from gateway.api.routes.period import ISO_PATTERN, IsoDate
from gateway.i18n.catalogue import label
from gateway.kinds.rating_pad.ratings_api import By, summary_of

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
GROUP_NAMES = {"window": "窗口", "staff": "人员", "item": "事项", "zone": "区域", "day": "日期", "line": "队列"}


def row(name: str, f: dict[str, Any]) -> list[Any]:
    reasons = "、".join(f"{label('bad_reason', k)} {n}" for k, n in f["bad_reasons"].items())
    return [name, f["rated"], f["unrated"], f["rating_rate"], f["good_rate"], f["bad_rate"], f["mean"], reasons]


@router.get(
    "/ratings/summary/export",
    summary="Rating figures for a period, by group, as a file: CSV or XLSX (the manager page's 导出)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the whole hall, then a row per group"}},
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
