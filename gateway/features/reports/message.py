"""What a scheduled report says where it is delivered: the work group's markdown (the period's
headline figures and a link) and the e-mail's subject and body. Pure: the report model in, text
out. A figure the hall has no source for says why, as the report does, never 0.

Every text put into a message is one line and, in the robots' markdown, holds no markup
(gateway/domain/markdown.py): a hall's name shows as typed, never a header, a link or a mention."""

from __future__ import annotations

from typing import Any

from gateway.domain.markdown import one_line, plain
from gateway.features.reports.model import FigureValue, Missing, Report

HEADLINE = (
    "calls.tickets",
    "calls.served",
    "calls.waiting_mean",
    "ratings.rated",
    "ratings.rating_rate",
    "ratings.good_rate",
    "ratings.bad",
    "orders.rectification_rate",
    "orders.overdue",
    "discipline.confirmed",
)
KIND = {"day": "日报", "week": "周报", "month": "月报", "quarter": "季报", "range": "报告"}


def shown(f: FigureValue) -> str:
    """A figure's value as the report prints it: 95.3%, 12.5 分钟, 120 张; a missing one its reason."""
    v = f.value
    if isinstance(v, Missing):
        return v.reason
    if v is None:
        return "—"
    if f.format == "percent" and isinstance(v, int | float):
        return f"{v * 100:.1f}%"
    if f.format in ("dec1", "minutes") and isinstance(v, int | float):
        return f"{v:.1f} {f.unit}".strip()
    return f"{v} {f.unit}".strip()


def headline(report: Report) -> list[tuple[str, str]]:
    """(label, value) of the headline figures the report has, in HEADLINE's order."""
    figures = {f.name: f for s in report.sections for f in s.figures}
    return [(figures[n].label, shown(figures[n])) for n in HEADLINE if n in figures]


def title(report: Report) -> str:
    return one_line(f"{report.hall} {KIND.get(report.period.kind, '报告')} {report.period.label}")


def markdown(report: Report, link: str | None) -> dict[str, Any]:
    """{"title", "text"}: the robots' markdown (钉钉 shows `title` in the chat list, 企业微信 `text` only)."""
    p = report.period
    lines = [
        f"### {plain(title(report))}",
        f"统计期间：{p.start} 至 {p.end}（{p.days} 天，工作日 {p.working_days} 天）",
        "",
    ]
    lines += [f"- {plain(label)}：**{plain(value)}**" for label, value in headline(report)]
    lines.append("")
    lines.append(f"[查看完整报告（PDF、XLSX）]({link})" if link else "完整报告（PDF、XLSX）请在网关管理页查看")
    return {"title": plain(title(report)), "text": "\n".join(lines)}


def email(report: Report, link: str | None) -> tuple[str, str]:
    """(subject, plain-text body) of the e-mail that carries the PDF and the XLSX."""
    p = report.period
    body = [
        "您好：",
        "",
        f"附件为{one_line(report.hall)}{p.label}的运行情况报告（PDF 与 XLSX），统计期间 {p.start} 至 {p.end}。",
        "",
        "主要指标：",
        *(f"  {label}：{value}" for label, value in headline(report)),
        "",
    ]
    if link:
        body.append(f"网关管理页：{link}")
    body.append("此邮件由大厅网关按计划自动发送，请勿直接回复。")
    return f"【运行情况报告】{title(report)}", "\n".join(body)
