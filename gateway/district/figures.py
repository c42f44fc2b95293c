"""The district's figures of a period, per site and per level, from the store's counts. Pure.

Rates are made from summed counts, never averaged: a level's 好评率 is its sites' good ratings over
their ratings, so a village with 3 ratings weighs as much as its 3 ratings. A figure whose source a
site does not forward (no queue system: no tickets) is None, never 0; a count the site does have
sources for but no events of is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.district.store import StatusChange

COUNTED = ("tickets", "served", "rated", "good", "bad", "unrated", "handling_s", "handled", "visitors")
# A site with any series of a source in the period counts its other figures of it as 0, not None.
SOURCES = (("tickets", "served", "handling_s", "handled"), ("rated", "good", "bad", "unrated"), ("visitors",))


@dataclass
class Counts:
    """What a site's (or a level's) figures are made from."""

    values: dict[str, float] = field(default_factory=dict)  # COUNTED name -> sum; absent: no such series
    online_ms: int = 0  # the devices' time online within the span
    observed_ms: int = 0  # the devices' time with a known state within the span

    def add(self, other: Counts) -> None:
        for k, v in other.values.items():
            self.values[k] = self.values.get(k, 0.0) + v
        self.online_ms += other.online_ms
        self.observed_ms += other.observed_ms


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 4) if num is not None and den else None


def figures(c: Counts) -> dict[str, float | int | None]:
    """The figures shown: counts as integers, rates 0..1 to 4 places, minutes to 2."""
    v = dict(c.values)
    for source in SOURCES:
        if any(k in v for k in source):
            v |= {k: v.get(k, 0.0) for k in source}

    def n(key: str) -> int | None:
        return round(v[key]) if key in v else None

    rated = n("rated")
    return {
        "tickets": n("tickets"),
        "served": n("served"),
        "rated": rated,
        "unrated": n("unrated"),
        # The reports' 评价率, rated visits ÷ served visits: of the sites with a queue system only
        # (a level's pads at a site without one have no served visits to be rated against).
        "rating_rate": _ratio(n("rated_served"), n("served")),
        "good_rate": _ratio(n("good") if rated else None, rated),
        "bad": n("bad"),
        "handling_mean_min": round(v["handling_s"] / v["handled"] / 60, 2) if v.get("handled") else None,
        "visitors": n("visitors"),
        "availability": _ratio(c.online_ms, c.observed_ms),
    }


def per_site(raw: Mapping[str, Mapping[str, float]], sites: Iterable[str]) -> dict[str, Counts]:
    """The store's figure -> site -> value turned round to site -> Counts, for the sites named."""
    out = {s: Counts() for s in sites}
    for name, by_site in raw.items():
        for site, value in by_site.items():
            if site in out:
                out[site].values[name] = value
    for c in out.values():
        if "served" in c.values or "tickets" in c.values:
            c.values.setdefault("rated_served", 0.0)
    return out


def availability(changes: Iterable[StatusChange], start_ms: int, end_ms: int) -> dict[str, tuple[int, int]]:
    """site -> (online ms, observed ms) of its devices within [start_ms, end_ms), from their status
    changes (oldest first): a device counts from its first known state, held until the next."""
    last: dict[tuple[str, str], tuple[int, bool]] = {}
    out: dict[str, list[int]] = {}

    def hold(key: tuple[str, str], until: int) -> None:
        if key not in last:
            return
        since, online = last[key]
        a, b = max(since, start_ms), min(until, end_ms)
        if b > a:
            acc = out.setdefault(key[0], [0, 0])
            acc[0] += (b - a) if online else 0
            acc[1] += b - a

    for c in changes:
        key = (c.site, c.device)
        hold(key, c.at_ms)
        last[key] = (c.at_ms, c.online)
    for key in list(last):
        hold(key, end_ms)
    return {site: (on, seen) for site, (on, seen) in out.items()}
