"""`hallgate report --kind week --period 2026-W49 --out DIR [-c hall.yaml]`: an operations report
from the hall's state database, beside a running gateway or without one (the stores are read in
this process; the report is recorded in the database like one asked for through the API)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from gateway.config.errors import ConfigError
from gateway.domain.periods import PeriodError

DEFAULT_CONFIG = "/etc/hallgate/hall.yaml"  # configs/systemd/hallgate@.service's HALL_CONFIG


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="an operations report (运行情况报告) as XLSX and JSON (and PDF)")
    # api-contract.md calls it without -c: the hall the systemd unit runs (HALL_CONFIG) is the default.
    p.add_argument(
        "-c",
        "--config",
        default=os.environ.get("HALL_CONFIG", DEFAULT_CONFIG),
        help=f"hall configuration (YAML); default: $HALL_CONFIG, else {DEFAULT_CONFIG}",
    )
    p.add_argument("--kind", required=True, help="day, week, month, quarter")
    p.add_argument("--period", required=True, help="2026-12-07, 2026-W49, 2026-12, 2026-Q4")
    p.add_argument("--out", required=True, help="folder to write the report's files into")
    p.add_argument("--by", default="cli", help="who asks (recorded with the report)")
    p.set_defaults(fn=cmd_report)


def say(text: str) -> None:
    print(text, flush=True)


def cmd_report(args: argparse.Namespace) -> int:
    from gateway.devices import load_hall
    from gateway.features.reports import sources
    from gateway.features.reports.desk import ReportDesk
    from gateway.kinds.base import KeepsRecords
    from gateway.kinds.lookup import Projections
    from gateway.kinds.registry import KINDS, stores
    from gateway.staff_registry import Roster
    from gateway.store.journal import Journal

    try:
        cfg, devices = load_hall(args.config, require_secrets=False)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    if not Path(cfg.store.state_file).exists():
        # Run where the gateway runs (a relative store.state_file is read from this directory):
        # a report from an empty new database would say the hall did nothing.
        print(
            f"状态数据库 {Path(cfg.store.state_file).absolute()} 不存在：请在网关运行的目录中执行，"
            "或在配置的 store.state_file 中写明它的路径（state_db_missing）",
            file=sys.stderr,
        )
        return 1
    say(f"读取状态数据库 {cfg.store.state_file}")
    with contextlib.ExitStack() as stack:
        journal = Journal(cfg.store.state_file, stores=stores())
        stack.callback(journal.close)
        factories = dict.fromkeys(
            f for k in dict.fromkeys(d.kind for d in devices.values()) for f in KINDS[k].projections
        )
        projections = [f(cfg, devices) for f in factories]
        for p in projections:
            if isinstance(p, KeepsRecords):
                stack.callback(p.attach(journal))
        src = sources(Projections(projections), journal, cfg)
        roster = Roster(cfg, journal)  # the registry with the API's changes, as the gateway names people
        desk = ReportDesk(cfg, src, journal.repos.reports, journal.path.parent / "reports", roster=roster)
        try:
            req = desk.ask(args.kind, args.period, args.by)
        except PeriodError as e:
            print(f"{e}（{e.code}）", file=sys.stderr)
            return 2
        if not req.new:
            print(
                f"报告 #{req.id}（{req.span.label}）正在生成中，请稍后在 API 中查看（report_rendering）",
                file=sys.stderr,
            )
            return 1
        say(f"报告 #{req.id}：{req.span.label}（{req.span.start} 至 {req.span.end}），统计指标…")
        started = time.monotonic()
        report = desk.build(req, args.by)
        if report is not None:
            desk.finish(req, desk.write(req, report, lambda fmt: say(f"生成 {fmt.upper()} 文件…")))
        if report is None or (journal.repos.reports.get(req.id) or {}).get("status") != "done":
            row = journal.repos.reports.get(req.id) or {}
            print(f"报告 #{req.id} 生成失败：{row.get('reason')}（report_failed）", file=sys.stderr)
            return 1
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(desk.files(req.id).glob("report.*")):
            target = out / f"report-{req.span.kind}-{req.span.label}{f.suffix}"
            shutil.copyfile(f, target)
            say(f"已写入 {target}")
        say(f"完成：报告 #{req.id}，用时 {time.monotonic() - started:.1f} 秒")
    return 0
