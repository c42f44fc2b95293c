"""The reports asked for: each a row of the state database (gateway/store/repos/reports.py) and its
files under the state directory (`reports/<id>/report.json`, `.xlsx`, `.pdf` when the PDF renderer
is installed). A report that fails to render is marked failed with the reason, never left
rendering; a second request for a report while it renders gets the same id."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.config.hall import HallConfig
from gateway.domain.periods import Span, check_after, check_past, parse
from gateway.features.reports.build import build as build_report
from gateway.features.reports.gather import Sources
from gateway.features.reports.model import Report
from gateway.features.reports.render import RENDERERS
from gateway.staff_registry import Roster
from gateway.store.repos.report_runs import ReportRuns
from gateway.store.repos.reports import Reports

log = logging.getLogger(__name__)


@dataclass
class Request:
    id: int
    span: Span
    new: bool  # False: the same report was already rendering


class ReportDesk:
    def __init__(
        self,
        cfg: HallConfig,
        sources: Sources,
        repo: Reports,
        directory: Path,
        clock: Callable[[], int] = time.time_ns,
        runs: ReportRuns | None = None,
        roster: Roster | None = None,
    ) -> None:
        self.cfg, self.sources, self.repo, self.directory, self.clock = cfg, sources, repo, directory, clock
        self.roster = roster or Roster(cfg)  # the names and departments as the registry has them now
        self.repo_runs = runs  # the scheduled ones' runs and deliveries (None in the CLI)

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock() / 1e9, ZoneInfo(self.cfg.timezone)).date()

    def ask(self, kind: str, period: str, by: str) -> Request:
        """A report of the period (PeriodError when the kind or period is not one the hall can have)."""
        span = parse(kind, period)
        check_past(span, self.today())
        check_after(span, self.first_day())
        start_ns, end_ns = span.bounds_ns(self.cfg.timezone)
        rid, new = self.repo.start(span.kind, span.label, start_ns, end_ns, by)
        return Request(rid, span, new)

    def build(self, req: Request, by: str) -> Report | None:
        """The report's figures, read from the stores (on the thread that owns their connections:
        the event loop's in the gateway); None when it failed (its row then says why)."""
        try:
            return build_report(self.roster.cfg(), self.sources, req.span, self.clock(), by)
        except Exception as e:
            return self._failed(req, e)

    def write(self, req: Request, report: Report, progress: Callable[[str], None] = lambda _: None) -> str | None:
        """The report's files (neither a store nor the database touched: any thread); None, or why
        they could not be written (then `finish` records it)."""
        try:
            out = self.files(req.id)
            out.mkdir(parents=True, exist_ok=True)
            for fmt, render in RENDERERS.items():
                progress(fmt)
                tmp = out / f".report.{fmt}.tmp"
                tmp.write_bytes(render(report))
                tmp.replace(out / f"report.{fmt}")
        except Exception as e:
            log.exception("report %d (%s %s): its files failed", req.id, req.span.kind, req.span.label)
            return f"报告文件写入失败（{type(e).__name__}: {e}）"
        return None

    def finish(self, req: Request, reason: str | None) -> None:
        """The row done, or failed with the reason (on the database's thread)."""
        self.repo.finish(req.id, reason)

    def _failed(self, req: Request, e: Exception) -> None:
        # a report that cannot render says why, and is never left rendering
        log.exception("report %d (%s %s) failed", req.id, req.span.kind, req.span.label)
        self.repo.finish(req.id, f"报告指标统计失败（{type(e).__name__}: {e}）")

    def first_day(self) -> date | None:
        """The hall's first day of data: the earliest its sources hold."""
        s = self.sources
        days = [d for src in (s.calls, s.ratings, s.clocking) if src is not None and (d := src.first_day())]
        return date.fromisoformat(min(days)) if days else None

    def files(self, rid: int) -> Path:
        return self.directory / str(rid)

    def file(self, rid: int, fmt: str) -> Path | None:
        p = self.files(rid) / f"report.{fmt}"
        return p if p.is_file() else None
