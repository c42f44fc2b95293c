"""The violations on MQTT (`hall/{site}/gateway/violations`, gateway/feeds.py): each step of a
violation's life (detected or recorded, confirmed, dismissed, appealed, decided) and the retained
counts: `open` (waiting for a person: detected or appealed) and `confirmed` this month (those that
count: confirmed, or upheld on appeal).

A change says the violation's id, kind, state and outcome codes, the window, the department and
when: never the person (name or staff id), nor the notes and evidence, which the district is not
to see. Queued by the ledger's repository in the step's own transaction (`Violations.told`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.domain import discipline as d
from gateway.features.discipline.ledger import period_of
from gateway.feeds import Feed, at, change
from gateway.store.repos.violations import Violations

NAME = "violations"
# The ledger's action -> the feed's event
EVENTS = {
    "detect": "detected",
    "record": "recorded",
    "confirm": "confirmed",
    "dismiss": "dismissed",
    "appeal": "appealed",
    "decide": "decided",
}
OPEN = ("detected", "appealed")  # waiting for a person's step


class ViolationFeed:
    def __init__(self, repo: Violations, zone: str) -> None:
        self.repo = repo
        self.zone = ZoneInfo(zone)
        self.feed = Feed(NAME, self.counts)

    def rows(self, v: dict[str, Any], action: str, at_ns: int) -> list[tuple[str, str]]:
        if not self.feed.live:
            return []
        body = {
            "kind": "violation",
            "id": v["id"],
            "event": EVENTS.get(action, action),
            "violation_kind": v["kind"],
            "state": v["state"],
            "outcome": v.get("outcome"),
            "window": v.get("window"),
            "department": v.get("department") or "",
            "at": at(at_ns, self.zone),
        }
        self.feed.wake.set()  # its sender looks at once (it finds the row once committed)
        return [change(NAME, body)]

    def counts(self, now_ns: int) -> dict[str, Any]:
        month, start, end = period_of(now_ns, self.zone, "month")
        q = f"SELECT count(*) FROM violations WHERE state IN ({', '.join('?' * len(OPEN))})"
        waiting = self.repo.conn.execute(q, OPEN).fetchone()[0]
        rows = self.repo.tally(_ns(start), _ns(end))
        return {"open": waiting, "confirmed": sum(d.counts(s, o) for *_, s, o in rows), "month": month}


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 10**9
