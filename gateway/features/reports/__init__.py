"""Operations reports (运行情况报告): a day's, a week's, a month's or a quarter's figures of the
hall, per window and per member of staff, with the period before and the same period a year
before, and 一月一评比. A cross-kind feature: it reads the queue, the ratings and their work
orders, the clock-in machines' days (考勤) through the read APIs (gateway/kinds/reads.py), the violations from the
discipline ledger's repository.

- `model.py`: what a report holds (the renderers read only this)
- `figures.py`: each figure once, with its formula
- `gather.py`: a period's inputs; `build.py`: the report; `xlsx.py`, `render.py`: the files
- `desk.py`: the reports asked for (state database rows, files); `api.py`: the routes
- `schedule.py`: the week's, month's and quarter's made when due; `deliver.py`, `message.py`: sent
  to the work group's robot and by e-mail
"""

from __future__ import annotations

import asyncio
import logging

from gateway.config.base import secret
from gateway.config.hall import HallConfig
from gateway.features.discipline.robots import sender
from gateway.features.reports import deliver, schedule
from gateway.features.reports.desk import ReportDesk
from gateway.features.reports.gather import Sources
from gateway.features.reports.gather_site import Device, SiteSources
from gateway.kinds.lookup import Projections
from gateway.kinds.reads import AttendanceDays, Presence, QueueFigures, RatingsRecord, Visits, Zones
from gateway.kinds.registry import KINDS
from gateway.kinds.wiring import Parts, Running, Webhook
from gateway.staff_registry import Roster
from gateway.store.journal import Journal

log = logging.getLogger(__name__)


def sources(projections: Projections, journal: Journal, cfg: HallConfig) -> Sources:
    r = journal.repos
    devices = [Device(d.id, KINDS[d.kind].label or d.kind, d.zone or "") for d in cfg.devices]
    # the pickup items are the kiosk-opened lockers' (Kind.kiosk): a hall without one has no lockers
    lockers = r.pickup if any(KINDS[d.kind].kiosk for d in cfg.devices) else None
    zones = projections.reads(Zones)
    return Sources(
        calls=projections.reads(QueueFigures),
        ratings=projections.reads(RatingsRecord),
        visits=projections.reads(Visits),
        clocking=projections.reads(AttendanceDays),
        violations=r.violations,
        site=SiteSources(
            presence=projections.reads(Presence),
            zones=zones,
            minutes=r.occupancy if zones is not None else None,
            health=r.health,
            alerts=r.alerts,
            lockers=lockers,
            devices=devices,
        ),
    )


def desk(running: Running) -> ReportDesk:
    j = running.journal
    d = ReportDesk(
        running.cfg,
        sources(running.projections, j, running.cfg),
        j.repos.reports,
        j.path.parent / "reports",
        clock=lambda: schedule.now_ns(),  # the schedule's: a report it makes is never "in the future"
        runs=j.repos.report_runs,
        roster=Roster(running.cfg, j),
    )
    left = j.repos.reports.abandon_rendering("网关在生成报告时停止（gateway stopped while rendering）")
    if left:
        log.warning("reports: %d left rendering by a stopped gateway marked failed", left)
    return d


def run(running: Running) -> Parts:
    """Built in every hall: a hall without a source has figures that say so."""
    d, runs = desk(running), running.journal.repos.report_runs
    wakes = {deliver.ROBOT: asyncio.Event(), deliver.EMAIL: asyncio.Event()}
    plan = schedule.Scheduler(running.cfg, d, runs, wakes)
    out = Parts(serves=[d, plan], tasks={"reports schedule": plan.loop})
    to = running.cfg.reports.delivery
    if to.robot is not None:
        make = sender(to.robot, secret(to.robot.secret_env) or "", running.cfg.discipline.notify.per_minute)
        hook = to.robot.dingtalk or to.robot.wecom
        out.webhooks.append(Webhook(deliver.ROBOT, hook, wakes[deliver.ROBOT], lambda c: deliver.once(make(c), runs)))
    if to.email is not None:
        mail = deliver.email_sender(to.email, d.file)
        out.webhooks.append(Webhook(deliver.EMAIL, to.email, wakes[deliver.EMAIL], lambda _: deliver.once(mail, runs)))
    return out
