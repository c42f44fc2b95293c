"""The ledger's lifecycle and three strikes over its repository: a person's step on a violation
(checked by gateway/domain/discipline.py, written with who and why), and after it the count of
that person's confirmed violations in the period, which raises an escalation once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.discipline import Strikes
from gateway.domain import discipline as d
from gateway.domain.conditions import Condition
from gateway.features.discipline.notify import Notices
from gateway.i18n.catalogue import label
from gateway.store.repos.violations import Violations

HOLD_NS = 5 * 10**9  # the escalation is reported this long; the alert then stays until a person closes it


class Unknown(LookupError):
    pass


def period_of(ts_ns: int, zone: ZoneInfo, period: str) -> tuple[str, datetime, datetime]:
    """The calendar period holding `ts_ns`: its name and [start, end) in the hall's time."""
    t = datetime.fromtimestamp(ts_ns / 1e9, zone)
    if period == "month":
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return f"{t.year}-{t.month:02d}", start, end
    if period == "quarter":
        q = (t.month - 1) // 3
        start = t.replace(month=3 * q + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + (q == 3), month=(3 * q + 3) % 12 + 1)
        return f"{t.year}-Q{q + 1}", start, end
    start = t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return str(t.year), start, start.replace(year=t.year + 1)


class Ledger:
    def __init__(
        self, repo: Violations, strikes: Strikes, zone: str, clock: Callable[[], int], notices: Notices | None = None
    ) -> None:
        self.repo = repo
        self.notices = notices  # the departments' robots (notify.py)
        self.strikes = strikes
        self.zone = ZoneInfo(zone)
        self.clock = clock
        self.raised: list[tuple[Condition, int]] = []  # escalations to report, until when

    def act(self, vid: int, action: str, who: tuple[str, str], text: str, outcome: str | None = None) -> dict[str, Any]:
        """A step on violation `vid` by `who` (actor, role); the violation after it. Raises Unknown,
        or d.TransitionError (with its code) when the step does not apply."""
        v = self.repo.get(vid)
        if v is None:
            raise Unknown(vid)
        if who[1] == "staff" and who[0] != v["staff"]:
            # A staff token appeals for the person it names (its `name` is their staff id).
            raise d.TransitionError("forbidden", f"{who[0]} may appeal only their own violations, not {v['staff']}'s")
        state = d.transition(v["state"], action, who[1], text, outcome)
        now = self.clock()
        # A confirmation tells the person's department, in the step's own transaction.
        sends = self.notices.confirmed(v) if self.notices and action == "confirm" else []
        if not self.repo.step(vid, state, v["state"], action, who, text.strip(), outcome, now, sends):
            raise d.TransitionError("violation_state", "another step came first: reload the violation")
        if self.notices:
            self.notices.queued(sends)
        self.escalate(v["staff"], v["at_ns"], now)
        after = self.repo.get(vid)
        assert after is not None
        return after

    def counted(self, staff: str, at_ns: int) -> tuple[str, list[dict[str, Any]]]:
        """The period holding `at_ns` and this person's violations that count in it."""
        name, start, end = period_of(at_ns, self.zone, self.strikes.period)
        rows = self.repo.find(staff=staff, start_ns=int(start.timestamp() * 1e9), end_ns=int(end.timestamp() * 1e9))
        return name, [r for r in reversed(rows) if d.counts(r["state"], r["outcome"])]

    def escalate(self, staff: str, at_ns: int, now_ns: int) -> int | None:
        period, rows = self.counted(staff, at_ns)
        if not d.strike(len(rows), self.strikes.count, self.repo.escalated(staff, period)):
            return None
        ids = [r["id"] for r in rows]
        sends = self.notices.escalated(staff, period, self.strikes.count, rows) if self.notices else []
        eid = self.repo.escalate(staff, period, ids, now_ns, sends)
        if eid is not None:
            if self.notices:
                self.notices.queued(sends)
            listed = ", ".join(f"#{r['id']} {r['kind']}" for r in rows)
            c = Condition(
                "violation_strikes",
                f"staff {staff} {period}",
                "warning",
                f"{staff}: {len(rows)} confirmed violations in {period} (limit {self.strikes.count}): {listed}",
                manual=True,
                params={"staff": staff, "period": period, "count": len(rows), "limit": self.strikes.count,
                        "listed": "、".join(f"#{r['id']} {label('violation_kind', r['kind'])}" for r in rows)},
            )  # fmt: skip
            self.raised.append((c, now_ns + HOLD_NS))
        return eid

    def conditions(self, now_ns: int) -> list[Condition]:
        self.raised = [(c, until) for c, until in self.raised if until >= now_ns]
        return [c for c, _ in self.raised]

    def strikes_now(self, now_ns: int) -> list[dict[str, Any]]:
        """Every person's count in the current period, those with any; the escalations raised."""
        period, start, end = period_of(now_ns, self.zone, self.strikes.period)
        rows = self.repo.find(start_ns=int(start.timestamp() * 1e9), end_ns=int(end.timestamp() * 1e9), limit=100000)
        by: dict[str, list[dict[str, Any]]] = {}
        for r in reversed(rows):
            if d.counts(r["state"], r["outcome"]):
                by.setdefault(r["staff"], []).append(r)
        done = {e["staff"]: e for e in self.repo.escalations(period)}
        return [
            {
                "staff": s,
                "period": period,
                "count": len(rs),
                "limit": self.strikes.count,
                "violations": [r["id"] for r in rs],
                "escalated_ns": done[s]["at_ns"] if s in done else None,
            }
            for s, rs in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
