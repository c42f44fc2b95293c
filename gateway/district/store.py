"""Reading the district store (VictoriaMetrics' Prometheus API; the cluster's vmselect speaks the
same): each site's last data, the counts behind the district's figures, the devices' statuses.

What the sites forward (gateway/store/points.py, kinds' series): each numeric field of a line is the
series `{measurement}_{field}` with the line's tags as labels, `site` among them. A redelivered
point lands on its own timestamp and the store keeps it once, so counting samples counts events.
VictoriaMetrics hides the newest `-search.latencyOffset` (30 s by default) from queries near now:
the last data time and today's figures trail by that much, far less than a site's offline delay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.config.base import secret
from gateway.district.config import DistrictStore

# figure -> the per-sample expression over the period's window `[{w}]`, summed per site.
COUNTS: dict[str, str] = {
    "tickets": 'count_over_time(queue_event_seq{{type="issued"}}[{w}])',
    "served": 'count_over_time(queue_event_seq{{type="finished"}}[{w}])',
    "rated": 'count_over_time(rating_pad_event_score{{type="rated"}}[{w}])',
    # visits rated, as the site joined them (gateway/features/rated_series.py): 评价率's numerator
    "rated_served": "count_over_time(rated_visit_rated[{w}])",
    "good": 'count_gt_over_time(rating_pad_event_score{{type="rated"}}[{w}], 3)',
    "bad": 'count_le_over_time(rating_pad_event_score{{type="rated"}}[{w}], 2)',
    "unrated": 'count_over_time(rating_pad_event_seq{{type="unrated"}}[{w}])',
    "handling_s": "sum_over_time(queue_handling_handling_s[{w}])",
    "handled": "count_over_time(queue_handling_handling_s[{w}])",
    "visitors": 'sum_over_time(occupancy_in{{zone="*"}}[{w}])',
}
# Where the last data is looked for: every site's over a short window (a few minutes of heartbeats
# of 366 sites is cheap to scan, a day of them is not), then the sites silent that long over a month.
FAR = "31d"
STATUS_BEFORE_MS = 7 * 86_400_000  # a device's status at the period's start: its last change before


class StoreUnreachable(Exception):
    """The district store did not answer, or answered with an error."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    site: str
    device: str
    at_ms: int
    online: bool


class StoreReader:
    def __init__(self, cfg: DistrictStore) -> None:
        auth = (cfg.username, secret(cfg.password_env) or "") if cfg.username else None
        self.url = cfg.url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=cfg.timeout_s, auth=auth)

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, path: str, params: Mapping[str, Any]) -> httpx.Response:
        try:
            r = await self.client.get(f"{self.url}{path}", params=params)
        except httpx.HTTPError as e:
            raise StoreUnreachable(f"{self.url}: {type(e).__name__}: {e}") from None
        if r.status_code != 200:
            raise StoreUnreachable(f"{self.url}{path}: HTTP {r.status_code}: {r.text[:300]}")
        return r

    async def query(self, expr: str, at_s: float) -> dict[str, float]:
        """An instant query summed `by (site)`: site -> value."""
        r = await self._get("/api/v1/query", {"query": expr, "time": f"{at_s:.3f}"})
        body = r.json()
        if body.get("status") != "success":
            raise StoreUnreachable(f"{self.url}: {body.get('error', body)}")
        return {s["metric"].get("site", ""): float(s["value"][1]) for s in body["data"]["result"]}

    async def last_data(self, at_s: float, sites: Iterable[str], recent_s: int) -> dict[str, float]:
        """site -> the time (epoch s) of its newest sample at or before `at_s`, for every site label
        with data in the last `recent_s`; the known sites silent that long are looked for over a
        month (a stranger silent that long is not looked for)."""
        expr = f'max by (site) (tlast_over_time({{site!=""}}[{recent_s}s]))'
        found = await self.query(expr, at_s)
        silent = sorted(set(sites) - set(found))
        if silent:
            pick = "|".join(silent)
            far = f'max by (site) (tlast_over_time({{site=~"{pick}"}}[{FAR}]))'
            found |= await self.query(far, at_s)
        return found

    async def counts(
        self, start_ms: int, end_ms: int, names: Iterable[str] = tuple(COUNTS)
    ) -> dict[str, dict[str, float]]:
        """figure -> site -> value over [start_ms, end_ms) for the COUNTS `names`: each expression
        evaluated at the last millisecond of the span over a window of the span's length."""
        window, at_s = f"{end_ms - start_ms}ms", (end_ms - 1) / 1000
        names = list(names)
        exprs = [f"sum by (site) ({COUNTS[n].format(w=window)})" for n in names]
        results = await asyncio.gather(*(self.query(e, at_s) for e in exprs))
        return dict(zip(names, results, strict=True))

    async def statuses(self, start_ms: int, end_ms: int) -> list[StatusChange]:
        """Every device's online/offline as forwarded (`device_status_online`), from a week before
        the span (its state when the span began) to its end, oldest first."""
        params = {
            "match[]": 'device_status_online{site!=""}',
            "start": f"{(start_ms - STATUS_BEFORE_MS) / 1000:.3f}",
            "end": f"{(end_ms - 1) / 1000:.3f}",
        }
        r = await self._get("/api/v1/export", params)
        out = []
        for line in r.text.splitlines():
            if not line.strip():
                continue
            s = json.loads(line)
            m = s["metric"]
            out += [
                StatusChange(m.get("site", ""), m.get("device", ""), int(t), bool(v))
                for t, v in zip(s["timestamps"], s["values"], strict=True)
            ]
        return sorted(out, key=lambda c: c.at_ms)
