"""The district's view over its store and broker: states, figures, ranking, one site. What the API
and the pages both read (gateway/district/api.py, pages.py); the clock is injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.district.config import LEVELS, DistrictConfig, Site
from gateway.district.figures import Counts, availability, figures, per_site
from gateway.district.period import parse_period
from gateway.district.standing import RANKED, standing
from gateway.district.state import Heard, site_state
from gateway.district.store import StoreReader
from gateway.district.watcher import BrokerWatcher
from gateway.domain import periods
from gateway.domain.periods import Span

MAX_STRANGERS = 100


class District:
    def __init__(
        self,
        cfg: DistrictConfig,
        reader: StoreReader,
        watcher: BrokerWatcher | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.reader, self.watcher, self.clock = cfg, reader, watcher, clock
        self.zone = ZoneInfo(cfg.timezone)
        # Every site online or recently offline is found in this window; the others in a month.
        self.recent_s = max(2 * cfg.offline_after_s, 600)

    # -- time ----------------------------------------------------------------------------------

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), self.zone).date()

    def at(self, epoch_s: float | None) -> str | None:
        return None if epoch_s is None else datetime.fromtimestamp(epoch_s, self.zone).isoformat(timespec="seconds")

    def span(self, text: str | None) -> Span:
        """The period named (default: this month); PeriodError for a bad or future one."""
        today = self.today()
        span = parse_period(text) if text else periods.month(today.year, today.month)
        periods.check_past(span, today)
        return span

    def _bounds_ms(self, span: Span) -> tuple[int, int]:
        a, b = span.bounds_ns(self.cfg.timezone)
        return a // 1_000_000, min(b // 1_000_000, int(self.clock() * 1000))

    # -- states --------------------------------------------------------------------------------

    def _heard(self) -> dict[str, Heard]:
        return self.watcher.snapshot() if self.watcher is not None else {}

    async def states(self) -> dict[str, Any]:
        now = self.clock()
        known = [s.id for s in self.cfg.sites]
        last = await self.reader.last_data(now, known, self.recent_s)
        heard = self._heard()
        sites = [self._state(s, last.get(s.id), heard.get(s.id), now) for s in self.cfg.sites]
        strangers = sorted(set(last) - set(known))
        return {
            "at": self.at(now),
            "offline_after_s": self.cfg.offline_after_s,
            "broker": self._broker(),
            "counts": {
                "sites": len(sites),
                "online": sum(s["state"] == "online" for s in sites),
                "offline": sum(s["state"] == "offline" for s in sites),
                "open_alerts": sum(s["open_alerts"] for s in sites),
                # From the sites' retained summaries (gateway/feeds.py); a site not heard adds 0.
                "open_workorders": sum((s["workorders"] or {}).get("open", 0) for s in sites),
                "open_violations": sum((s["violations"] or {}).get("open", 0) for s in sites),
                "confirmed_violations": sum((s["violations"] or {}).get("confirmed", 0) for s in sites),
                "by_level": {
                    lv: {
                        "sites": sum(s["level"] == lv for s in sites),
                        "online": sum(s["level"] == lv and s["state"] == "online" for s in sites),
                    }
                    for lv in LEVELS
                },
            },
            "sites": sites,
            # Labels in the store that district.yaml does not list: shown apart, never counted in;
            # the first MAX_STRANGERS named (a site writing made-up labels must not bloat the view).
            "unknown_sites": [{"site": s, "last_data": self.at(last[s])} for s in strangers[:MAX_STRANGERS]],
            "unknown_sites_total": len(strangers),
        }

    def _broker(self) -> str:
        if self.watcher is None:
            return "not_configured"
        return "connected" if self.watcher.connected.is_set() else "disconnected"

    def _state(self, site: Site, last: float | None, heard: Heard | None, now: float) -> dict[str, Any]:
        st = site_state(last, heard, now, self.cfg.offline_after_s)
        alerts = sorted((heard.alerts if heard else {}).values(), key=lambda a: -(a["opened_ns"] or 0))
        return {
            "id": site.id,
            "name": site.name,
            "level": site.level,
            "parent": site.parent,
            "state": st.state,
            "reason": st.reason,
            "last_data": self.at(st.last_data_s),
            "silent_s": None if st.silent_s is None else round(st.silent_s),
            "gateway": heard.gateway if heard else None,
            "bridge": None if heard is None or heard.bridge is None else ("up" if heard.bridge else "down"),
            "open_alerts": heard.open_alerts if heard else 0,
            "alerts": [self._alert(a) for a in alerts],
            # 差评 work orders {open, overdue} and violations {open, confirmed (this month), month}
            # as the site last said them; None: not heard (no feed bridged up yet)
            "workorders": heard.counts.get("workorders") if heard else None,
            "violations": heard.counts.get("violations") if heard else None,
        }

    # -- figures -------------------------------------------------------------------------------

    async def _counts(self, span: Span, ranking: bool = False) -> tuple[dict[str, Counts], int, int]:
        """The sites' counts of the span; for the ranking only what it scores (half the queries)."""
        start, end = self._bounds_ms(span)
        if ranking:
            raw, changes = await self.reader.counts(start, end, RANKED), []
        else:
            raw, changes = await asyncio.gather(self.reader.counts(start, end), self.reader.statuses(start, end))
        counts = per_site(raw, [s.id for s in self.cfg.sites])
        for site, (on, seen) in availability(changes, start, end).items():
            if site in counts:
                counts[site].online_ms, counts[site].observed_ms = on, seen
        return counts, start, end

    async def figures(self, span: Span) -> dict[str, Any]:
        counts, start, end = await self._counts(span)
        levels = {lv: Counts() for lv in LEVELS}
        whole = Counts()
        for s in self.cfg.sites:
            levels[s.level].add(counts[s.id])
            whole.add(counts[s.id])
        return {
            **self._period(span, start, end),
            "sites": [{"id": s.id, "name": s.name, "level": s.level, **figures(counts[s.id])} for s in self.cfg.sites],
            "levels": {
                lv: {"sites": sum(s.level == lv for s in self.cfg.sites), **figures(c)} for lv, c in levels.items()
            },
            "district": figures(whole),
        }

    def _period(self, span: Span, start: int, end: int) -> dict[str, Any]:
        return {"period": span.label, "kind": span.kind, "start": self.at(start / 1000), "until": self.at(end / 1000)}

    async def ranking(self, span: Span) -> dict[str, Any]:
        counts, start, end = await self._counts(span, ranking=True)
        by_site = {sid: figures(c) for sid, c in counts.items()}
        table = standing(by_site, self.cfg.ranking.weights, self.cfg.ranking.red_flags)
        for row in table["rows"]:
            site = self.cfg.site(row["site"])
            assert site is not None
            row.update(name=site.name, level=site.level, rated=by_site[site.id]["rated"])
        return {**self._period(span, start, end), **table}

    async def site(self, site: Site, span: Span) -> dict[str, Any]:
        now = self.clock()
        last = await self.reader.last_data(now, [site.id], self.recent_s)
        state = self._state(site, last.get(site.id), self._heard().get(site.id), now)
        counts, start, end = await self._counts(span)
        return {**state, **self._period(span, start, end), "figures": figures(counts[site.id])}

    def _alert(self, a: dict[str, Any]) -> dict[str, Any]:
        """An alert as the site's gateway bridged it up, in the fields the district shows."""
        keep = ("id", "rule", "severity", "summary", "device", "state")
        opened = a["opened_ns"]
        return {k: a[k] for k in keep} | {"opened": self.at(opened / 1e9) if opened else None}
