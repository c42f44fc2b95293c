"""The scheduled operations reports: the week's, the month's and the quarter's, each made once
when due (reports.schedule in the hall file; gateway/domain/report_schedule.py says when) and then
delivered (gateway/features/reports/deliver.py).

Durable and once: each run is a row of the state database keyed by its period. A gateway that was
down at the run's time makes it when it starts; one restarted after it ran finds the row and makes
nothing. Only the last due run of each kind is made (a gateway down for three weeks makes the last
week's), and none due before the schedule first ran (a new gateway makes no history). A report
that fails to render is failed with the reason and tried again `retries` times, the wait doubling
from `retry_after_min`; a gateway stopped while rendering counts as a failed attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.config.hall import HallConfig
from gateway.domain.periods import PeriodError
from gateway.domain.report_schedule import Run, latest_due, next_run, retry_at_ns
from gateway.features.reports import message
from gateway.features.reports.deliver import EMAIL, ROBOT
from gateway.features.reports.desk import ReportDesk, Request
from gateway.features.reports.model import Report
from gateway.store.repos.report_runs import ReportRuns

log = logging.getLogger(__name__)
BY = "schedule"  # who asked, on the report's row


def now_ns() -> int:
    """The schedule's clock (tests set it, as a fake, before the gateway starts)."""
    return time.time_ns()


@dataclass
class Scheduled:
    kind: str
    at: str  # HH:MM, hall time
    next: Run
    last: dict[str, Any] | None  # the latest run's row


class Scheduler:
    def __init__(
        self,
        cfg: HallConfig,
        desk: ReportDesk,
        runs: ReportRuns,
        wakes: dict[str, asyncio.Event],
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.cfg, self.s, self.desk, self.runs, self.wakes = cfg, cfg.reports.schedule, desk, runs, wakes
        self.clock = clock or (lambda: now_ns())  # looked up at each call: a test's fake clock
        self.lock = asyncio.Lock()

    def plan(self) -> list[Scheduled]:
        """Each scheduled kind's next run and its latest."""
        now, last, tz = self.clock(), self.runs.last(), self.cfg.timezone
        return [
            Scheduled(kind, at.strftime("%H:%M"), next_run(kind, now, at, tz, self.s.week_day), last.get(kind))
            for kind, at in self.s.at.items()
        ]

    async def loop(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.s.check_s)

    async def check(self) -> list[int]:
        """Make what is due and not made, deliver what is made and not delivered: the reports made."""
        if not self.s.enabled:
            return []
        async with self.lock:
            made = []
            now = self.clock()
            since = self.runs.since(now)
            for kind, at in self.s.at.items():
                run = latest_due(kind, now, at, self.cfg.timezone, self.s.week_day)
                if run.at_ns < since:
                    continue
                row = self.runs.get(kind, run.span.label)
                if row is None or self._again(row, now):
                    rid = await self._make(run, now)
                    if rid is not None:
                        made.append(rid)
                    row = self.runs.get(kind, run.span.label)
                if row is not None and row["state"] == "done" and not row["queued"]:
                    self._deliver(row)
            return made

    def _again(self, row: dict[str, Any], now: int) -> bool:
        if row["state"] == "making":
            # left by a stopped gateway (its report was failed at start): a failed attempt
            return row["attempts"] <= self.s.retries
        return row["state"] == "failed" and row["next_ns"] is not None and row["next_ns"] <= now

    async def _make(self, run: Run, now: int) -> int | None:
        kind, label = run.kind, run.span.label
        attempt = self.runs.begin(kind, label, run.at_ns)
        try:
            req = self.desk.ask(kind, label, BY)
        except PeriodError as e:  # a period before the hall's first data: nothing to report
            self.runs.ended(kind, label, "skipped", note=f"{e}（{e.code}）")
            return None
        log.info("reports: the scheduled %s report %s (#%d), attempt %d", kind, label, req.id, attempt)
        report = await self._render(req) if req.new else None
        row = self.desk.repo.get(req.id) or {}
        if row.get("status") == "done":
            self.runs.ended(kind, label, "done", report_id=req.id)
            return req.id
        # failed (its row says why), or someone else's request of the period still rendering
        again = retry_at_ns(self.clock(), attempt, self.s.retry_after_min) if attempt <= self.s.retries else None
        self.runs.ended(kind, label, "failed", report_id=req.id, next_ns=again)
        if report is None and req.new:
            log.warning("reports: the scheduled %s report %s failed: %s", kind, label, row.get("reason"))
        return None

    async def _render(self, req: Request) -> Report | None:
        report = self.desk.build(req, BY)  # the stores are read on the event loop's thread
        if report is not None:
            reason = await asyncio.get_running_loop().run_in_executor(None, self.desk.write, req, report)
            self.desk.finish(req, reason)
        return report

    def _deliver(self, row: dict[str, Any]) -> None:
        d = self.cfg.reports.delivery
        if d.robot is None and d.email is None:
            self.runs.hand_over(row["kind"], row["period"], row["report_id"], [], self.clock())
            return
        path = self.desk.file(row["report_id"], "json")
        if path is None:
            return
        report = Report.model_validate_json(path.read_bytes())
        link = f"{d.link.rstrip('/')}/web/manager.html#report-{row['report_id']}" if d.link else None
        rows = []
        if d.robot is not None:
            rows.append(("robot", ROBOT, json.dumps(message.markdown(report, link), ensure_ascii=False)))
        if d.email is not None:
            subject, body = message.email(report, link)
            name = f"report-{report.period.kind}-{report.period.label}"
            m = {"report": row["report_id"], "subject": subject, "body": body, "name": name}
            rows.append(("email", EMAIL, json.dumps(m, ensure_ascii=False)))
        if self.runs.hand_over(row["kind"], row["period"], row["report_id"], rows, self.clock()):
            for _, target, _ in rows:
                self.wakes[target].set()
