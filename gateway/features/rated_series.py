"""评价率's numerator for the district store (issue 25): a point per rated served visit.

The hall's 评价率 is rated visits ÷ served visits, a rating joined to its visit when asked
(gateway/domain/rated_visits.py). The district store has only series: counting the `rated` events
of a site counted a rating of no visit (a citizen pressing the pad between visits), a second rating
of one visit or a rating of a visit served in another period as a rated visit, and the district
showed a higher 评价率 than the site's own report. So the site makes the join and forwards its
result: `rated_visit,site=,window=,line= rated=1i` at the visit's `finished` (to the millisecond:
the district store's precision), once per rated visit. The district counts those samples
(gateway/district/store.py) against the served visits' `finished` events.

The join runs every `district.rated_visits_every_s` over yesterday and today (the hall's days),
so a rating that came before its visit ended, or a backlog replayed, is joined on a later pass.
A visit already written is remembered (those of the two days; a restart writes them again: the
same point, which the store keeps once). Written only where the hall forwards to a district and
has both sources (served visits and ratings).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from gateway.domain.canonical import Priority
from gateway.domain.rated_visits import Served, join
from gateway.kinds.base import Record
from gateway.kinds.reads import RatingsRecord, Visits
from gateway.kinds.wiring import Parts, Running
from gateway.store.points import make_line

log = logging.getLogger(__name__)
MEASUREMENT = "rated_visit"
MARGIN_NS = 12 * 3600 * 10**9  # as the ratings summary's join: a visit began, a rating came, half a day apart
MS = 1_000_000


class Appends(Protocol):
    def append(self, records: Sequence[Record]) -> None: ...


def records(site: str, visits: Iterable[Served]) -> list[Record]:
    """The points of rated visits. Pure."""
    return [
        (
            Priority.EVENT,
            make_line(
                MEASUREMENT, {"site": site, "window": v.window, "line": v.line}, {"rated": 1}, v.ended_ns // MS * MS
            ),
        )
        for v in visits
    ]


class RatedSeries:
    def __init__(
        self, site: str, tz: str, visits: Visits, ratings: RatingsRecord, outbox: Appends, clock: Callable[[], float]
    ) -> None:
        self.site, self.zone = site, ZoneInfo(tz)
        self.visits, self.ratings, self.outbox, self.clock = visits, ratings, outbox, clock
        self.sent: set[Served] = set()

    def span(self) -> tuple[int, int]:
        """[yesterday's start, tomorrow's start) in the hall's days, ns."""
        today = datetime.fromtimestamp(self.clock(), self.zone).date()
        start = datetime.combine(today - timedelta(days=1), datetime.min.time(), self.zone)
        end = datetime.combine(today + timedelta(days=1), datetime.min.time(), self.zone)
        return int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9

    def once(self) -> int:
        """Joins the two days and writes the rated visits not written yet; how many."""
        start, end = self.span()
        period = self.visits.served(start, end)
        joined = join(
            [*self.visits.served(start - MARGIN_NS, start), *period],
            self.ratings.ratings_between(start - MARGIN_NS, end + MARGIN_NS),
        )
        new = [v for v in period if v in joined.rated and v not in self.sent]
        if new:
            self.outbox.append(records(self.site, new))
        self.sent = {v for v in self.sent if v.ended_ns >= start} | set(new)
        return len(new)


def run(running: Running) -> Parts:
    cfg, p = running.cfg, running.projections
    visits, ratings = p.reads(Visits), p.reads(RatingsRecord)
    if cfg.district.url is None or running.outbox is None or visits is None or ratings is None:
        return Parts()
    series = RatedSeries(cfg.district.site_label or cfg.site, cfg.timezone, visits, ratings, running.outbox, time.time)
    every = cfg.district.rated_visits_every_s

    async def loop() -> None:
        while True:
            try:
                series.once()
            except Exception:
                log.exception("rated visits for the district: this pass failed (the next one tries again)")
            await asyncio.sleep(every)

    return Parts(tasks={"rated visits for the district": loop})
