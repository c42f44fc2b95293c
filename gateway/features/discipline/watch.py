"""What the devices show, turned into violations (gateway/domain/discipline.py) and recorded.

Reads who is in and their spells through `Presence`, each slot's phone and whose it is through
`Slots`, and the approved unlocks from the command audit (a confirmed `unlock` of a slot). Checked
every `discipline.check_s` on the command desk's tick, in working days; each violation once (its key).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.hall import HallConfig
from gateway.config.staff import StaffEntry
from gateway.domain import discipline as d
from gateway.domain.calendar import WorkCalendar
from gateway.kinds.reads import Presence, Slots
from gateway.staff_registry import Roster
from gateway.store.repos.audit import Audit
from gateway.store.repos.violations import Violations

NS = 10**9
UNLOCKED = ("confirmed", "opened_late")  # an unlock the cabinet carried out
SLOT = re.compile(r"^slot (\d+)$")


class Watch:
    def __init__(
        self,
        cfg: HallConfig,
        presence: Presence | None,
        slots: Slots | None,
        repo: Violations,
        audit: Audit,
        roster: Roster | None = None,
    ) -> None:
        c = cfg.discipline
        self.cfg = c
        self.limits = d.Limits(c.away_min, c.phone_grace_min, c.unlock_covers_min, c.ready_grace_min)
        self.presence, self.slots, self.repo, self.audit = presence, slots, repo, audit
        self.zone = ZoneInfo(cfg.timezone)
        w = cfg.working_hours
        self.hours = (w.start, w.end)
        self.calendar = WorkCalendar.of(w.days, w.holidays, w.workdays)
        self.posts = [d.PostOf(p.window, p.a, p.b) for p in cfg.posts]
        self.hall = cfg
        self.roster = roster or Roster(cfg)
        self.people: dict[str, StaffEntry] = {}
        self.window_of: dict[str, str] = {}
        self.places: dict[str, tuple[str, int]] = {}
        self._seen = -1
        self._registry()
        self.next_ns = 0

    def _registry(self) -> None:
        """Who is whose post and slot, from the registry as it is now (its change, at once)."""
        people = self.roster.people()
        self._seen = self.roster.seen
        self.people = {p.id: p for p in people}
        self.window_of = {p.id: p.window for p in people if p.window}
        self.window_of |= {p.a: p.window for p in self.hall.posts} | {p.b: p.window for p in self.hall.posts if p.b}
        self.places = {p.id: (p.device, p.slot) for p in people if p.device and p.slot}

    def at(self, day: Any, t: time) -> int:
        return int(datetime.combine(day, t, self.zone).timestamp() * NS)

    def tick(self, now_ns: int) -> None:
        if now_ns < self.next_ns:
            return
        self.next_ns = now_ns + int(self.cfg.check_s * NS)
        self.check(now_ns)

    def check(self, now_ns: int) -> list[int]:
        """Record what is found now; the ids of the violations new this time."""
        found = self.detect(now_ns)
        if not found:
            return []
        day_start = self.at(datetime.fromtimestamp(now_ns / NS, self.zone).date(), time(0))
        known = self.repo.keys_since(day_start - NS)
        rows = [self.row(v) for v in found if v.key not in known]
        return self.repo.add(rows, now_ns) if rows else []

    def row(self, v: d.Detected) -> dict[str, Any]:
        person = self.people.get(v.staff)
        return {**asdict(v), "evidence": list(v.evidence), "department": person.department if person else ""}

    def detect(self, now_ns: int) -> list[d.Detected]:
        self.roster.refresh()
        if self.roster.seen != self._seen:  # a POST /api/v1/staff since (an int compared, no read)
            self._registry()
        if self.presence is None or not self.cfg.enabled:
            return []
        day = datetime.fromtimestamp(now_ns / NS, self.zone).date()
        if not self.calendar.is_working(day):
            return []
        start, end = self.at(day, self.hours[0]), self.at(day, self.hours[1])
        periods = d.periods_of(
            start, min(end, now_ns), [(self.at(day, b.start), self.at(day, b.end)) for b in self.cfg.breaks]
        )
        spells = self.presence.spells(now_ns)
        out = d.unready(self.posts, spells, start, now_ns, self.limits) if now_ns < end else []
        out += d.away(self.posts, spells, periods, now_ns, self.limits)
        phones = self.phones_out(now_ns)
        if phones:  # the audit is read only when a phone is out
            out += d.phone(phones, self.unlocks(start), periods, now_ns, self.limits, self.window_of)
        return out

    def phones_out(self, now_ns: int) -> list[d.PhoneOut]:
        if self.slots is None or self.presence is None:
            return []
        places = dict(self.slots.owners()) | self.places
        out = []
        for staff, since in self.presence.present(now_ns).items():
            place = places.get(staff)
            if place is None:
                continue
            s = self.slots.slot(*place)
            if s.get("phone") is False:  # unknown (None) is not out
                out.append(d.PhoneOut(staff, place[0], place[1], since, s.get("phone_since_ns") or since))
        return out

    def unlocks(self, since_ns: int) -> dict[tuple[str, int], list[int]]:
        """The slots' confirmed unlocks since `since_ns` (the command audit)."""
        out: dict[tuple[str, int], list[int]] = {}
        for a in self.audit.audit(start_ns=since_ns, limit=5000):
            m = SLOT.match(a.get("part") or "")
            if a["action"] == "unlock" and a["outcome"] in UNLOCKED and m:
                out.setdefault((a["device"], int(m.group(1))), []).append(a["at_ns"])
        return out
