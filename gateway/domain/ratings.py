"""Ratings (好差评): one rating per case, and the figures managers read. Pure.

"一次一评": a case (办件) is rated once. A `rated` event names its case; the first one counts and
every later `rated` of the same case is a duplicate, never counted again. A resend of the same
event (same device and seq) is neither: it is the same rating. A rating without a case id counts,
flagged `no_case_id`, and only a resend of the same device and seq is recognised as the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BAD = (1, 2)  # 差评: 不满意, 非常不满意
GOOD = (4, 5)
SCORES = (1, 2, 3, 4, 5)
GROUPS = ("window", "staff", "item", "zone", "day")


@dataclass(frozen=True, slots=True)
class Rating:
    """A `rated` or `unrated` event as the figures see it."""

    key: str  # what makes it one rating: its case, or its device and seq
    rated: bool
    device: str
    seq: int | None
    ts_ns: int
    day: str  # the hall's local date, ISO
    case_id: str
    window: str
    staff: str
    item: str
    zone: str
    ticket: str
    score: int | None  # None when unrated
    reasons: tuple[str, ...] = ()

    @property
    def no_case_id(self) -> bool:
        return self.rated and not self.case_id

    @property
    def bad(self) -> bool:
        return self.score in BAD

    @property
    def event_id(self) -> str:
        """The event itself (device, seq and time): a resend has the same."""
        return f"{self.device}#{self.seq}@{self.ts_ns}"


def rating_key(rated: bool, case_id: str, device: str, seq: int | None, ts_ns: int) -> str:
    if rated and case_id:
        return f"case:{case_id}"
    return f"{'rated' if rated else 'unrated'}:{device}#{seq}@{ts_ns}"


def from_fields(
    rated: bool, device: str, seq: int | None, ts_ns: int, day: str, fields: Mapping[str, Any], zone: str
) -> Rating:
    case_id = str(fields.get("case_id") or "")
    score = fields.get("score") if rated else None
    if not isinstance(score, int) or isinstance(score, bool):
        # A `rated` without a score (the pad's "no score", left out by its profile) asked and got
        # no rating: an unrated visit. The rating pad's kind names it so before it is stored.
        rated, score = False, None
    reasons = fields.get("reasons") or ()
    if isinstance(reasons, str):
        reasons = tuple(r for r in reasons.split(",") if r)
    return Rating(
        key=rating_key(rated, case_id, device, seq, ts_ns),
        rated=rated,
        device=device,
        seq=seq,
        ts_ns=ts_ns,
        day=day,
        case_id=case_id,
        window=str(fields.get("window") or ""),
        staff=str(fields.get("staff_id") or ""),
        item=str(fields.get("item") or ""),
        zone=zone,
        ticket=str(fields.get("ticket") or ""),
        score=score,
        reasons=tuple(str(r) for r in reasons),
    )


@dataclass
class Figures:
    """What a period (or one window, staff member, ... of it) adds up to."""

    rated: int = 0
    unrated: int = 0
    scores: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))
    score_sum: int = 0
    no_case_id: int = 0
    bad_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, r: Rating) -> None:
        if not r.rated:
            self.unrated += 1
            return
        self.rated += 1
        self.no_case_id += r.no_case_id
        if r.score in self.scores:
            self.scores[r.score] += 1
            self.score_sum += r.score
        if r.bad:
            self.bad_reasons.update(r.reasons)

    def out(self) -> dict[str, Any]:
        rated, asked = self.rated, self.rated + self.unrated
        good = sum(self.scores[s] for s in GOOD)
        bad = sum(self.scores[s] for s in BAD)
        return {
            "rated": rated,
            "unrated": self.unrated,
            "rating_rate": round(rated / asked, 4) if asked else None,
            "good_rate": round(good / rated, 4) if rated else None,
            "bad_rate": round(bad / rated, 4) if rated else None,
            "scores": {str(s): self.scores[s] for s in SCORES},
            "mean": round(self.score_sum / rated, 3) if rated else None,
            "bad_reasons": dict(sorted(self.bad_reasons.items())),
            "no_case_id": self.no_case_id,
        }


def group_of(r: Rating, by: str) -> str:
    return {"window": r.window, "staff": r.staff, "item": r.item, "zone": r.zone, "day": r.day}[by]


def first(a: Rating, b: Rating) -> Rating:
    """Of two ratings of one case, the one that counts: the earlier, whatever order they came in."""
    return a if (a.ts_ns, a.device, a.seq or 0) <= (b.ts_ns, b.device, b.seq or 0) else b


@dataclass
class Ledger:
    """Ratings in the order they arrive (any order, any number of times): which count.

    The state database does the same with unique keys; this is its reference model for the tests
    and the one place the rule is written down: of the events of one key the earliest counts, the
    others are duplicates (a resend of an event is that event, not another).
    """

    counted: dict[str, Rating] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)  # event ids seen

    def add(self, r: Rating) -> str:
        """'new', 'resend' (the same event again) or 'duplicate' (another rating of a rated case)."""
        if r.event_id in self.events:
            return "resend"
        self.events.add(r.event_id)
        have = self.counted.get(r.key)
        if have is None:
            self.counted[r.key] = r
            return "new"
        self.counted[r.key] = first(have, r)
        return "duplicate"

    @property
    def duplicates(self) -> int:
        return len(self.events) - len(self.counted)

    def figures(self, by: str | None = None) -> dict[str, Figures]:
        return summarize(self.counted.values(), by)


def summarize(ratings: Iterable[Rating], by: str | None = None) -> dict[str, Figures]:
    """Figures per group (`by` one of GROUPS), or one group "" for all."""
    out: dict[str, Figures] = {}
    for r in ratings:
        out.setdefault(group_of(r, by) if by else "", Figures()).add(r)
    return out
