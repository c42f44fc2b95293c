"""The queue (排队叫号): one ticket's life as a visit, and the figures halls publish. Pure.

As the queue vendors' statistics do, every arrival, call, start, end and transfer is an event,
and the figures are derived from them. A visit is one ticket of one day (`(day, ticket)`, tickets
restart daily); it is made of transactions: the first begins when the ticket is issued, and each
transfer to another line ends the current one (outcome `transferred`) and begins the next, which
waits again from the moment of the transfer. Each transaction ends with an outcome: `done`,
`pending_materials`, `rejected` (a finished case, with its case id), `no_show` or `transferred`.

- waiting time: from the transaction's start (issue or transfer) to its first call;
- handling time: from `started` to `finished`;
- a recalled ticket keeps its first call for the waiting time; a no-show counts from its last call.

Events may come twice (a replayed range) or out of order (a backlog): each one sets what it
knows, so applying the same event again changes nothing, and a `called` that arrives before its
`issued` is kept (the visit is marked `unissued` until the issue arrives). A transfer is taken in
the order it comes: the device uploads a backlog oldest first, so a ticket's own events keep
their order even when the day's events are interleaved with a replayed range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

EVENTS = ("issued", "called", "started", "finished", "transferred", "no_show")
RESULTS = ("done", "pending_materials", "rejected")
OUTCOMES = (*RESULTS, "no_show", "transferred")
SOURCES = ("walk_in", "appointment")
GROUPS = ("line", "window", "staff", "item", "hour", "day", "source")
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Transaction:
    line: str
    queued_ns: int | None  # issued, or transferred into this line; None until the issue arrives
    item: str = ""
    source: str = ""  # walk_in or appointment (of the visit's ticket)
    first_called_ns: int | None = None
    last_called_ns: int | None = None
    calls: int = 0
    started_ns: int | None = None
    ended_ns: int | None = None
    window: str = ""
    staff: str = ""
    case_id: str = ""
    outcome: str = ""  # one of OUTCOMES once ended

    @property
    def waiting_ns(self) -> int | None:
        if self.queued_ns is None or self.first_called_ns is None:
            return None
        return max(0, self.first_called_ns - self.queued_ns)

    @property
    def handling_ns(self) -> int | None:
        if self.started_ns is None or self.ended_ns is None or self.outcome not in RESULTS:
            return None
        return max(0, self.ended_ns - self.started_ns)

    @property
    def served(self) -> bool:
        return self.outcome in RESULTS


@dataclass(frozen=True, slots=True)
class Visit:
    day: str
    ticket: str
    transactions: tuple[Transaction, ...]
    unissued: bool = False  # a call (or later event) came for a ticket never issued
    seen: frozenset[str] = field(default_factory=frozenset)  # event ids applied (a resend is one)

    @property
    def current(self) -> Transaction:
        return self.transactions[-1]

    @property
    def ended(self) -> bool:
        return self.current.outcome not in ("", "transferred")


def line_of(ticket: str) -> str:
    """The business line a ticket belongs to: its letters (A031 -> A)."""
    return "".join(c for c in ticket if c.isalpha()) or "?"


def event_id(device: str, seq: int | None, ts_ns: int, name: str) -> str:
    return f"{device}#{seq}@{ts_ns}:{name}"


def apply(visit: Visit | None, name: str, fields: Mapping[str, Any], ts_ns: int, day: str, eid: str) -> Visit:
    """The visit after one queue event (`visit` None: the ticket's first event of the day)."""
    if name not in EVENTS:
        raise ValueError(f"not a queue event: {name!r}")
    ticket = str(fields.get("ticket") or "")
    if visit is not None and eid in visit.seen:
        return visit
    if visit is None:
        tx = Transaction(line=str(fields.get("line") or line_of(ticket)), queued_ns=None)
        visit = Visit(day=day, ticket=ticket, transactions=(tx,), unissued=name != "issued")
    visit = replace(visit, seen=visit.seen | {eid})
    tx = visit.current
    window = str(fields.get("window") or tx.window)
    staff = str(fields.get("staff_id") or tx.staff)
    if name == "issued":
        first = visit.transactions[0]
        first = replace(
            first,
            line=str(fields.get("line") or first.line),
            queued_ns=ts_ns if first.queued_ns is None else min(first.queued_ns, ts_ns),
            item=str(fields.get("item") or first.item),
            source=str(fields.get("source") or first.source),
        )
        return replace(visit, transactions=(first, *visit.transactions[1:]), unissued=False)
    if name == "called":
        tx = replace(
            tx,
            first_called_ns=ts_ns if tx.first_called_ns is None else min(tx.first_called_ns, ts_ns),
            last_called_ns=ts_ns if tx.last_called_ns is None else max(tx.last_called_ns, ts_ns),
            calls=tx.calls + 1,
            window=window,
            staff=staff,
        )
    elif name == "started":
        tx = replace(
            tx, started_ns=ts_ns if tx.started_ns is None else min(tx.started_ns, ts_ns), window=window, staff=staff
        )
    elif name == "finished":
        result = str(fields.get("result") or "done")
        tx = replace(
            tx,
            ended_ns=ts_ns,
            outcome=result if result in RESULTS else "done",
            case_id=str(fields.get("case_id") or tx.case_id),
            window=window,
            staff=staff,
        )
    elif name == "no_show":
        tx = replace(tx, ended_ns=tx.last_called_ns or ts_ns, outcome="no_show", window=window)
    elif name == "transferred":
        ended = replace(tx, ended_ns=ts_ns, outcome="transferred", window=str(fields.get("from_window") or tx.window))
        nxt = Transaction(line=str(fields.get("to_line") or tx.line), queued_ns=ts_ns, item=tx.item, source=tx.source)
        return replace(visit, transactions=(*visit.transactions[:-1], ended, nxt))
    return replace(visit, transactions=(*visit.transactions[:-1], tx))


def reissued(visit: Visit | None, name: str, eid: str) -> bool:
    """A second, different `issued` of a ticket the same day: the queue server restarted its
    numbering (A001 again), so this is another visit, not the same one again."""
    return (
        name == "issued"
        and visit is not None
        and eid not in visit.seen
        and not visit.unissued
        and visit.transactions[0].queued_ns is not None
    )


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rank(n: int, q: int) -> tuple[int, int, int]:
    """Where the q-th percentile of n sorted values lies: between ranks lo and hi (0 = the
    smallest), `frac` hundredths of the way (the interpolation `percentile` does)."""
    k = (n - 1) * q
    lo = k // 100
    return lo, min(lo + 1, n - 1), k % 100


def spread_of(n: int, total_ns: int, at: Callable[[int], int]) -> dict[str, float | None]:
    """Mean, median and p90 in seconds (to 0.1 s) of n durations (ns) summing to `total_ns`,
    `at(r)` giving the r-th smallest. Worked out exactly, one division each: the figures do
    not depend on the order of a sum, whether the values come from a list or from SQL."""
    if not n:
        return {"mean_s": None, "median_s": None, "p90_s": None}

    def q(quantile: int) -> float:
        lo, hi, frac = rank(n, quantile)
        return round((at(lo) * 100 + (at(hi) - at(lo)) * frac) / (100 * NS), 1)

    return {"mean_s": round(total_ns / (n * NS), 1), "median_s": q(50), "p90_s": q(90)}


def spread(values_ns: list[int]) -> dict[str, float | None]:
    """Mean, median and p90 in seconds."""
    ordered = sorted(values_ns)
    return spread_of(len(ordered), sum(ordered), ordered.__getitem__)


@dataclass
class Figures:
    """What the summary reports for one group (a line, a window, an hour, ...)."""

    tickets: int = 0  # transactions that began in this group (a transfer begins one)
    issued: int = 0  # tickets issued (first transactions only)
    appointments: int = 0
    served: int = 0
    no_shows: int = 0
    transfers: int = 0
    unissued: int = 0
    waiting: list[int] = field(default_factory=list)
    handling: list[int] = field(default_factory=list)

    def out(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "issued": self.issued,
            "served": self.served,
            "no_shows": self.no_shows,
            "transfers": self.transfers,
            "unissued": self.unissued,
            "appointments": self.appointments,
            "appointment_share": round(self.appointments / self.issued, 4) if self.issued else None,
            "waiting": spread(self.waiting),
            "handling": spread(self.handling),
        }


def group_key(by: str, visit: Visit, tx: Transaction, hour_of: Any) -> str:
    if by == "hour":
        at = tx.queued_ns if tx.queued_ns is not None else tx.first_called_ns
        return "" if at is None else hour_of(at)
    if by == "day":
        return visit.day
    return str(getattr(tx, by))


def summarise(visits: Iterable[Visit], by: str, hour_of: Any) -> dict[str, Figures]:
    """Figures per group; `hour_of(ts_ns)` gives the hall's local hour ("09") of a time."""
    if by not in GROUPS:
        raise ValueError(f"by: one of {', '.join(GROUPS)}, not {by!r}")
    out: dict[str, Figures] = {}
    for visit in visits:
        for i, tx in enumerate(visit.transactions):
            f = out.setdefault(group_key(by, visit, tx, hour_of), Figures())
            f.tickets += 1
            if i == 0:
                f.issued += 0 if visit.unissued else 1
                f.appointments += tx.source == "appointment" and not visit.unissued
                f.unissued += visit.unissued
            f.served += tx.served
            f.no_shows += tx.outcome == "no_show"
            f.transfers += tx.outcome == "transferred"
            if (w := tx.waiting_ns) is not None:
                f.waiting.append(w)
            if (h := tx.handling_ns) is not None:
                f.handling.append(h)
    return out
