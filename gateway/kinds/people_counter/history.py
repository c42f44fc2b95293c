"""Occupancy history per minute, hour or day: from InfluxDB 1.x (/query) when the gateway writes
there, else from the gateway's own per-minute table in the state database.

Hours and days are the hall's own (its time zone): a day starts at local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import httpx

from gateway.config.base import secret as config_secret
from gateway.config.store import Influx
from gateway.domain.occupancy import MINUTE_NS, Bucket
from gateway.kinds.people_counter import MEASUREMENT

Step = Literal["minute", "hour", "day"]
INFLUX_GROUP = {"minute": "1m", "hour": "1h", "day": "1d"}
MAX_POINTS = 10_000
QUERY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Point:
    start_ns: int
    entered: int
    left: int
    occupancy: int | None  # at the end of the step
    clamped: int | None


class HistoryError(Exception):
    """InfluxDB could not answer (unreachable, refused the query, or answered nonsense)."""


def step_start(ts_ns: int, step: Step, tz: str) -> int:
    if step == "minute":
        return ts_ns - ts_ns % MINUTE_NS
    t = datetime.fromtimestamp(ts_ns / 1e9, ZoneInfo(tz))
    t = t.replace(minute=0, second=0, microsecond=0)
    if step == "day":
        t = t.replace(hour=0)
    return int(t.timestamp()) * 10**9


def roll_up(minutes: list[Bucket], step: Step, tz: str) -> list[Point]:
    """Minutes (oldest first) summed per step; occupancy and drift as at the step's last minute."""
    out: dict[int, Point] = {}
    for b in minutes:
        key = step_start(b.start_ns, step, tz)
        p = out.get(key)
        entered, left = (p.entered, p.left) if p else (0, 0)
        out[key] = Point(key, entered + b.entered, left + b.left, b.occupancy, b.clamped)
    return list(out.values())


def every_step(points: list[Point], start_ns: int, end_ns: int, step: Step, tz: str) -> list[Point]:
    """Each step of [start, end) with its point, or an empty one (no one counted, occupancy
    unknown) where there is none: the steps the manager page's chart shows, gaps as gaps."""
    got = {p.start_ns: p for p in points}
    out = []
    ns = step_start(start_ns, step, tz)
    while ns < end_ns:
        out.append(got.get(ns) or Point(ns, 0, 0, None, None))
        if step == "day":  # the next local midnight: 23 or 25 hours on a clock change
            ns = int((datetime.fromtimestamp(ns / 1e9, ZoneInfo(tz)) + timedelta(days=1)).timestamp()) * 10**9
        else:
            ns += MINUTE_NS * (60 if step == "hour" else 1)
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influx_query(cfg: Influx, site: str, zone: str, start_ns: int, end_ns: int, step: Step, tz: str) -> str:
    source = f'"{cfg.database}".' + (f'"{cfg.retention_policy}".' if cfg.retention_policy else ".") + MEASUREMENT
    return (
        'SELECT sum("in"), sum("out"), last("occupancy"), last("clamped") '
        f"FROM {source} WHERE site = {_literal(site)} AND zone = {_literal(zone)} "
        f"AND time >= {start_ns} AND time < {end_ns} "
        f"GROUP BY time({INFLUX_GROUP[step]}) fill(none) tz({_literal(tz)})"
    )


async def from_influx(
    cfg: Influx, site: str, zone: str, start_ns: int, end_ns: int, step: Step, tz: str
) -> list[Point]:
    params = {"db": cfg.database, "q": influx_query(cfg, site, zone, start_ns, end_ns, step, tz), "epoch": "ns"}
    auth = (cfg.username, config_secret(cfg.password_env) or "") if cfg.username else None
    try:
        async with httpx.AsyncClient(timeout=QUERY_TIMEOUT_S, auth=auth) as client:
            r = await client.get(cfg.url.rstrip("/") + "/query", params=params)
    except httpx.HTTPError as e:
        raise HistoryError(f"InfluxDB not reachable: {type(e).__name__}: {e}") from None
    if r.status_code != 200:
        raise HistoryError(f"InfluxDB answered {r.status_code}: {r.text[:200]}")
    try:
        result = r.json()["results"][0]
        if "error" in result:
            raise HistoryError(f"InfluxDB refused the query: {result['error']}")
        rows = result["series"][0]["values"] if result.get("series") else []
        return [
            Point(int(t), int(i or 0), int(o or 0), None if occ is None else int(occ), None if c is None else int(c))
            for t, i, o, occ, c in rows
        ]
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise HistoryError(f"InfluxDB answered something else than a query result: {e}") from None
