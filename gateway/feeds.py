"""The gateway's feeds on MQTT beside its alerts: `hall/{site}/gateway/{name}` (`workorders`,
`violations`), each change of what a kind or feature keeps, and a retained summary of what is open.

The alerts' way (gateway/alerts/delivery.py): a change is a row of the durable delivery queue
(target `mqtt:{name}`) written in the same transaction as the change it tells, published at QoS 1
in order, each until the broker took it. While the broker is down the rows wait in the state
database (across a restart too), and go, oldest first, once it is back: nothing is lost. After each
batch, on every connect, and whenever its counts differ from the last ones published (a new month,
an order gone overdue), the summary is published retained (`type: summary`), so a subscriber that
joins late (the district, through the site broker's bridge) knows the numbers at once.

What goes out is codes and ids only, never a person's name or staff id: the district sees these
(README "District"). The payloads are made by the kind or feature (its `feed.py`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

PREFIX = "mqtt:"  # the delivery queue's target of a feed: mqtt:workorders


@dataclass
class Feed:
    name: str  # the topic's last level: hall/{site}/gateway/{name}
    summary: Callable[[int], dict[str, Any]]  # now_ns -> the open counts (without `type`, `at`)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set when a change is queued
    # False in a hall without an MQTT link (Modbus devices only): nothing is queued, as for the
    # alerts' `mqtt` target, so no row waits for a broker that never comes
    live: bool = True

    @property
    def target(self) -> str:
        return PREFIX + self.name


def topic(site: str, name: str) -> str:
    return f"hall/{site}/gateway/{name}"


def at(ts_ns: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, zone).isoformat(timespec="seconds")


def change(feed: str, body: dict[str, Any]) -> tuple[str, str]:
    """A change's (target, JSON) row for the delivery queue: compact, codes only."""
    return PREFIX + feed, json.dumps({"type": "change", **body}, ensure_ascii=False, separators=(",", ":"))


class Summaries:
    """Publishes each feed's retained summary when its counts changed (or `force`)."""

    def __init__(self, site: str, feeds: list[Feed], zone: ZoneInfo) -> None:
        self.site, self.feeds, self.zone = site, feeds, zone
        self.last: dict[str, dict[str, Any]] = {}

    def publish(self, send: Callable[[str, bytes], object], now_ns: int, force: bool = False) -> None:
        for f in self.feeds:
            counts = f.summary(now_ns)
            if not force and self.last.get(f.name) == counts:
                continue
            body = {"type": "summary", **counts, "at": at(now_ns, self.zone)}
            send(topic(self.site, f.name), json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
            self.last[f.name] = counts
