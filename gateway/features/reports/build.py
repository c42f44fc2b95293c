"""A report from a period's inputs: the figures of the registry for the hall with their
comparisons (the period before, the same period a year before), the tables per window and per
member of staff, the score distribution, the 差评 reasons, the violations by kind and, for a month
or a quarter, 一月一评比."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.config.hall import HallConfig
from gateway.domain.periods import Span
from gateway.domain.ranking import CRITERIA, TIE_RULE, rank
from gateway.features.reports import figures as F
from gateway.features.reports.gather import Gathered, Sources, gather
from gateway.features.reports.model import Cell, Chart, Column, FigureValue, Missing, Period, Report, Section, Table

NO_EARLIER = Missing(code="no_data", reason="对比期没有数据")
SECTIONS = (
    ("calls", "排队叫号"),
    ("ratings", "好差评"),
    ("orders", "差评整改"),
    ("posts", "窗口开放"),
    ("clocking", "考勤"),
    ("discipline", "纪律"),
    ("visitors", "客流"),
    ("devices", "设备"),
    ("lockers", "取件柜"),
)


def period_of(span: Span, cfg: HallConfig) -> Period:
    from gateway.domain.calendar import WorkCalendar

    wh = cfg.working_hours
    cal = WorkCalendar.of(wh.days, wh.holidays, wh.workdays)
    a, b = span.bounds_ns(cfg.timezone)
    return Period(
        kind=span.kind,
        label=span.label,
        start=span.start,
        end=span.end,
        start_ns=a,
        end_ns=b,
        days=span.days,
        working_days=len(span.working_days(cal)),
        timezone=cfg.timezone,
    )


def _column(name: str) -> Column:
    f = F.BY_NAME[name]
    return Column(key=name, label=f.label, unit=f.unit, format=f.format)


def build(cfg: HallConfig, src: Sources, span: Span, now_ns: int, by: str = "") -> Report:
    now = gather(cfg, src, span, now_ns, daily=True)
    before, year = (gather(cfg, src, s, now_ns) for s in (span.previous(), span.last_year()))
    sections: list[Section] = []
    for key, title in SECTIONS:
        values = [
            FigureValue(
                name=f.name,
                label=f.label,
                unit=f.unit,
                format=f.format,
                formula=f.formula,
                value=f.compute(now.hall),
                previous=f.compute(before.hall) if before.has_data() else NO_EARLIER,
                last_year=f.compute(year.hall) if year.has_data() else NO_EARLIER,
            )
            for f in F.FIGURES
            if f.name.split(".")[0] == key
        ]
        sections.append(
            Section(key=key, title=title, figures=values, tables=_tables(key, now), charts=_charts(key, now))
        )
    windows = _scopes("windows", "分窗口", "窗口", now.windows, F.WINDOW_FIGURES + F.POST_FIGURES)
    windows.charts = _window_charts(now)
    sections.append(windows)
    sections.append(
        _scopes("staff", "分人员", "人员", now.staff, F.WINDOW_FIGURES, names={p.id: p.name for p in cfg.staff})
    )
    sections.append(_scopes("departments", "分科室", "科室", now.departments, F.WINDOW_FIGURES))
    names = {z.id: z.name or z.id for z in cfg.zones}
    sections.append(_scopes("zones", "分区域", "区域", now.zones, F.ZONE_FIGURES, names=names))
    sections.append(trend(now))
    if span.kind in ("month", "quarter"):
        sections.append(ranking(cfg, now))
    return Report(
        title=f"{cfg.name or cfg.site} 运行情况报告 {span.label}",
        hall=cfg.name or cfg.site,
        period=period_of(span, cfg),
        previous=period_of(span.previous(), cfg),
        last_year=period_of(span.last_year(), cfg),
        created=datetime.fromtimestamp(now_ns / 1e9, UTC),
        by=by,
        sections=sections,
    )


def _tables(key: str, g: Gathered) -> list[Table]:
    if key == "ratings" and (scores := F.scores(g.hall)) is not None:
        rated = sum(scores.values())
        dist = Table(
            key="scores",
            title="评分分布",
            columns=[
                Column(key="score", label="分数", unit="分"),
                Column(key="count", label="次数", unit="次"),
                Column(key="share", label="占比", unit="%", format="percent"),
            ],
            rows=[[s, n, round(n / rated, 4) if rated else F.NO_DATA] for s, n in scores.items()],
        )
        reasons = F.bad_reasons(g.hall) or {}
        why = Table(
            key="bad_reasons",
            title="差评原因",
            columns=[Column(key="reason", label="原因", format="text"), Column(key="count", label="次数", unit="次")],
            rows=[[r, n] for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))],
        )
        return [dist, why]
    if key == "devices" and g.hall.devices:
        kinds: dict[str, list[F.DeviceSpan]] = {}
        for d in g.hall.devices:
            kinds.setdefault(d.kind, []).append(d)
        return [
            Table(
                key="devices_by_kind",
                title="设备（按类型）",
                columns=[
                    Column(key="kind", label="类型", format="text"),
                    Column(key="count", label="台数", unit="台"),
                    *(_column(n) for n in F.DEVICE_FIGURES),
                ],
                rows=[
                    [k, len(ds), *(F.BY_NAME[n].compute(F.Inputs(devices=ds)) for n in F.DEVICE_FIGURES)]
                    for k, ds in kinds.items()
                ],
            )
        ]
    if key == "discipline" and (kinds := F.violations_by_kind(g.hall)) is not None:
        return [
            Table(
                key="violations_by_kind",
                title="确认违规（按类型）",
                columns=[Column(key="kind", label="类型", format="text"), Column(key="count", label="起数", unit="起")],
                rows=[[k, n] for k, n in sorted(kinds.items())],
            )
        ]
    return []


def trend(g: Gathered) -> Section:
    """每日趋势: the hall's day figures across the period, as a table and a line chart."""
    columns = [Column(key="day", label="日期", format="text")] + [_column(n) for n in F.TREND_FIGURES]
    rows: list[list[Cell]] = [[d, *(F.BY_NAME[n].compute(i) for n in F.TREND_FIGURES)] for d, i in g.days.items()]
    table = Table(key="trend", title="每日趋势", columns=columns, rows=rows)
    series: dict[str, list[float | None]] = {}
    for n, name in enumerate(F.TREND_FIGURES, 1):
        values = [r[n] for r in rows]
        if any(isinstance(v, int | float) for v in values):
            series[F.BY_NAME[name].label] = [float(v) if isinstance(v, int | float) else None for v in values]
    charts = []
    if series and rows:
        x = [str(r[0])[5:] for r in rows]  # "12-02"
        charts.append(Chart(key="trend", title="每日趋势", type="line", x=x, series=series, unit="人次/件"))
    return Section(key="trend", title="每日趋势", tables=[table], charts=charts)


def _charts(key: str, g: Gathered) -> list[Chart]:
    if key == "ratings" and (scores := F.scores(g.hall)) is not None:
        counts: list[float | None] = [float(n) for n in scores.values()]
        return [Chart(key="scores", title="评分分布", x=[f"{s}分" for s in scores], series={"次数": counts}, unit="次")]
    return []


def _window_charts(g: Gathered) -> list[Chart]:
    """Each window's served visits and 好评率, where the hall has their sources."""
    out = []
    for name, title in (("calls.served", "各窗口办结数"), ("ratings.good_rate", "各窗口好评率")):
        f = F.BY_NAME[name]
        values = {w: f.compute(i) for w, i in g.windows.items()}
        if any(isinstance(v, int | float) for v in values.values()):
            series: list[float | None] = [float(v) if isinstance(v, int | float) else None for v in values.values()]
            out.append(Chart(key=name, title=title, x=list(values), series={f.label: series}, unit=f.unit))
    return out


def _scopes(
    key: str,
    title: str,
    head: str,
    scopes: dict[str, F.Inputs],
    figures: tuple[str, ...],
    names: dict[str, str] | None = None,
) -> Section:
    columns = [Column(key="id", label=head, format="text")]
    if names is not None:
        columns.append(Column(key="name", label="名称" if key == "zones" else "姓名", format="text"))
    columns += [_column(n) for n in figures]
    rows: list[list[Cell]] = []
    for sid, inputs in scopes.items():
        row: list[Cell] = [sid] + ([names.get(sid, "")] if names is not None else [])
        rows.append(row + [F.BY_NAME[n].compute(inputs) for n in figures])
    return Section(key=key, title=title, tables=[Table(key=key, title=title, columns=columns, rows=rows)])


def ranking(cfg: HallConfig, g: Gathered) -> Section:
    weights = cfg.reports.ranking.weights
    source = {
        "good_rate": "ratings.good_rate",
        "rating_rate": "ratings.rating_rate",
        "handling_mean": "calls.handling_mean",
        "violations": "discipline.confirmed",
        "overdue": "orders.overdue",
        "empty_minutes": "posts.empty_minutes",
    }
    rows: dict[str, dict[str, float | None]] = {}
    for w, inputs in g.windows.items():
        vals = {c: F.BY_NAME[source[c]].compute(inputs) for c in weights}
        rows[w] = {c: float(v) if isinstance(v, int | float) else None for c, v in vals.items()}
    rated = {w: sum(r.rated for r in i.ratings or ()) for w, i in g.windows.items()}
    ranked = rank(rows, weights, cfg.reports.ranking.red_flags, rated)
    crit = [c for c in weights if weights[c] > 0]
    table = Table(
        key="ranking",
        title="一月一评比",
        columns=[
            Column(key="rank", label="名次"),
            Column(key="window", label="窗口", format="text"),
            Column(key="score", label="得分", unit="分", format="dec1"),
            Column(key="red_flag", label="红旗窗口", format="text"),
        ]
        + [_column(source[c]).model_copy(update={"key": c}) for c in crit],
        rows=[
            [r.rank, r.window, r.score, "红旗窗口" if r.red_flag else ""] + [rows[r.window][c] for c in crit]
            for r in ranked
        ],
        note=TIE_RULE,
    )
    w_table = Table(
        key="weights",
        title="评比权重",
        columns=[
            Column(key="criterion", label="指标", format="text"),
            Column(key="weight", label="权重", format="dec1"),
            Column(key="better", label="方向", format="text"),
        ],
        rows=[[CRITERIA[c][0], w, "越高越好" if CRITERIA[c][1] else "越低越好"] for c, w in weights.items()],
    )
    flags = cfg.reports.ranking.red_flags
    note = f"得分 = Σ(权重 × 指标在各窗口间的归一值) ÷ Σ权重 × 100；前 {flags} 名为红旗窗口。{TIE_RULE}"
    return Section(key="ranking", title="一月一评比", tables=[table, w_table], note=note)
