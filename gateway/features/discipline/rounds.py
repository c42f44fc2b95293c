"""The people's side of the ledger (巡查): a violation a person records, its photo, the 整改通知单
issued from a confirmed one and signed by its person, the overdue ones as alerts, and the counts
of confirmed violations by department, person or kind.

Served to the routes (`patrol_api.py`); its `conditions` ride on the command desk like the
ledger's: a notice past its deadline and unsigned is a `notice_overdue` alert until it is signed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.domain import discipline as d
from gateway.domain import patrol as p
from gateway.domain.conditions import Condition
from gateway.features.discipline.photos import Clean, Refused, Shelf
from gateway.staff_registry import Roster
from gateway.store.repos.patrol import Patrol
from gateway.store.repos.violations import Violations

NS = 10**9


class Rounds:
    def __init__(
        self, violations: Violations, patrol: Patrol, roster: Roster, photos: Path, clock: Callable[[], int]
    ) -> None:
        self.violations, self.repo = violations, patrol
        self.roster = roster  # the registry as it is now: a person added through the API is known at once
        self.shelf = Shelf(photos)
        self.clock = clock

    def record(
        self, staff: str, kind: str, note: str, at_ns: int | None, where: str | None, who: tuple[str, str]
    ) -> int:
        """A violation a person saw, `detected` like a device's (a duty manager or manager then
        confirms it); its id."""
        person = self.roster.by_id().get(staff)
        if person is None:
            raise Refused(422, "unknown_staff", f"no staff {staff} in the registry", staff=staff)
        code = p.kind_of(kind)
        if code is None:
            raise Refused(422, "unknown_violation_kind", f"kind {kind!r}: one of {', '.join(p.RECORDED)}", kind=kind)
        now = self.clock()
        at = now if at_ns is None else at_ns
        if at > now + 60 * NS:
            raise Refused(422, "invalid_request", "at is in the future", field="at 晚于当前时间")
        place = (where or "").strip() or None
        ev = {"event": "patrol", "by": who[0], "role": who[1], "note": note, "where": place, "ts_ns": at}
        row = {
            "key": f"patrol:{staff}:{at}:{uuid.uuid4().hex}",  # each record is its own occurrence
            "kind": code,
            "staff": staff,
            "window": place if place in {s.window for s in self.roster.people() if s.window} else person.window,
            "department": person.department,
            "at_ns": at,
            "evidence": [ev],
            "by": who,
            "note": note,
        }
        (vid,) = self.violations.add([row], now)
        return vid

    def violation(self, vid: int) -> dict[str, Any]:
        v = self.violations.get(vid)
        if v is None:
            raise Refused(404, "unknown_violation", f"no violation {vid}", violation=vid)
        return v

    # -- photos ------------------------------------------------------------------------------------

    def add_photo(self, vid: int, photo: Clean, who: tuple[str, str]) -> dict[str, Any]:
        self.violation(vid)
        if self.repo.photo(vid) is not None:
            raise Refused(409, "photo_exists", f"violation {vid} has its photo already", violation=vid)
        self.shelf.put(photo)  # the file first: a ledger row never names a file that is not there
        if not self.repo.add_photo(vid, photo.digest, photo.kind, len(photo.data), who, self.clock()):
            raise Refused(409, "photo_exists", f"violation {vid} has its photo already", violation=vid)
        got = self.repo.photo(vid)
        assert got is not None
        return got

    def photo(self, vid: int) -> tuple[dict[str, Any], bytes]:
        self.violation(vid)
        meta = self.repo.photo(vid)
        data = self.shelf.get(meta["digest"], meta["type"]) if meta else None
        if meta is None or data is None:
            raise Refused(404, "no_photo", f"violation {vid} has no photo (or its file is gone)", violation=vid)
        return meta, data

    # -- 整改通知单 ---------------------------------------------------------------------------------

    def issue(self, vid: int, text: str, deadline_ns: int, who: tuple[str, str]) -> dict[str, Any]:
        v = self.violation(vid)
        if not d.counts(v["state"], v["outcome"]):
            raise Refused(409, "notice_state", f"violation {vid} is {v['state']}: only a confirmed one", violation=vid)
        now = self.clock()
        if deadline_ns <= now:
            raise Refused(422, "invalid_request", "the deadline has passed", field="deadline 早于当前时间")
        nid = self.repo.issue(vid, v["staff"], text, deadline_ns, who, now)
        if nid is None:
            raise Refused(409, "notice_exists", f"violation {vid} has its notice already", violation=vid)
        return self.notice(nid)

    def notice(self, nid: int) -> dict[str, Any]:
        n = self.repo.notice(nid)
        if n is None:
            raise Refused(404, "unknown_notice", f"no notice {nid}", notice=nid)
        return self.state_of(n)

    def state_of(self, n: dict[str, Any]) -> dict[str, Any]:
        return {**n, "state": p.notice_state(n["deadline_ns"], n["acked_ns"], self.clock())}

    def acknowledge(self, nid: int, note: str, who: tuple[str, str]) -> dict[str, Any]:
        n = self.notice(nid)
        if not p.may_acknowledge(who[1], who[0], n["staff"]):
            raise Refused(403, "forbidden", f"only {n['staff']} signs notice {nid}", case="notice_own", notice=nid)
        if not self.repo.acknowledge(nid, n["violation"], who, note, self.clock()):
            raise Refused(409, "notice_signed", f"notice {nid} is signed already", notice=nid)
        return self.notice(nid)

    def conditions(self, _now_ns: int) -> list[Condition]:
        """Each notice past its deadline that its person has not signed: raised until signed. By
        its own clock (the desk's; a test moves it a day on), as the notices' states are."""
        now_ns = self.clock()
        return [
            Condition(
                "notice_overdue",
                f"notice {n['id']}",
                "warning",
                f"notice #{n['id']} (violation #{n['violation']}) to {n['staff']} not signed by its deadline",
                params={"notice": n["id"], "violation": n["violation"], "staff": n["staff"]},
            )
            for n in self.repo.unsigned_past(now_ns)
        ]

    # -- counts ------------------------------------------------------------------------------------

    def summary(self, by: str, start_ns: int, end_ns: int) -> tuple[int, list[tuple[str, int]]]:
        """The confirmed violations (those that count) in [start, end): total and per key, most first."""
        at = {"department": 0, "staff": 1, "kind": 2}[by]
        counted = Counter(r[at] for r in self.violations.tally(start_ns, end_ns) if d.counts(r[3], r[4]))
        return sum(counted.values()), sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
