"""Operations reports (运行情况报告): a day's, a week's, a month's or a quarter's figures of the
hall, per window and per member of staff, with the period before and the same period a year
before, and 一月一评比. A cross-kind feature: it reads the queue, the ratings and their work
orders, the clock-in machines' days (考勤) through the read APIs (gateway/kinds/reads.py), the violations from the
discipline ledger's repository.

- `model.py`: what a report holds (the renderers read only this)
- `figures.py`: each figure once, with its formula
- `gather.py`: a period's inputs; `build.py`: the report; `xlsx.py`, `render.py`: the files
- `desk.py`: the reports asked for (state database rows, files); `api.py`: the routes
"""

from __future__ import annotations

import logging

from gateway.config.hall import HallConfig
from gateway.features.reports.desk import ReportDesk
from gateway.features.reports.gather import Sources
from gateway.features.reports.gather_site import Device, SiteSources
from gateway.kinds.lookup import Projections
from gateway.kinds.reads import AttendanceDays, Presence, QueueFigures, RatingsRecord, Visits, Zones
from gateway.kinds.registry import KINDS
from gateway.kinds.wiring import Parts, Running
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
        running.cfg, sources(running.projections, j, running.cfg), j.repos.reports, j.path.parent / "reports"
    )
    left = j.repos.reports.abandon_rendering("网关在生成报告时停止（gateway stopped while rendering）")
    if left:
        log.warning("reports: %d left rendering by a stopped gateway marked failed", left)
    return d


def run(running: Running) -> Parts:
    """Built in every hall: a hall without a source has figures that say so."""
    return Parts(serves=[desk(running)])
