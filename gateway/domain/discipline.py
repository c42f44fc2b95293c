"""The discipline ledger (违规台账): violations found in what the devices saw. Pure: the clock,
the day's clock-in spells, the slots' phones and the approved unlocks come in; violations out.

Three kinds are detected:
- `away` (离岗超时): a window post nobody is on, after someone had been on it, for longer than
  the limit in open time (working hours without the breaks); the person whose spell ended it (the
  out punch) is the one who left;
- `phone` (违规使用手机): a clocked-in person's phone out of its slot in open time, for longer
  than the grace period, not counting the time an approved unlock of that slot covers;
- `unready` (工作准备不到位): at opening + grace, a post nobody is on (the A post's person is named).

Each violation has a `key` that names the occurrence (a kind, a person or window, and when it
began): finding it again on the next check is the same violation, so it is recorded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NS = 10**9
KINDS = ("unready", "away", "phone")
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Limits:
    away_min: float = 15.0
    phone_grace_min: float = 5.0
    unlock_covers_min: float = 30.0  # an approved unlock excuses the phone out for this long
    ready_grace_min: float = 5.0


@dataclass(frozen=True, slots=True)
class PostOf:
    window: str
    a: str
    b: str | None = None


@dataclass(frozen=True, slots=True)
class Detected:
    kind: str
    staff: str
    window: str | None
    at_ns: int  # when it began (the out punch, the phone out, the opening + grace)
    key: str
    evidence: tuple[dict[str, Any], ...] = field(default=())


def overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def open_time(span: Span, periods: Sequence[Span], minus: Iterable[Span] = ()) -> int:
    """The part of `span` inside the open periods, without what `minus` covers (ns)."""
    total = sum(overlap(span, p) for p in periods)
    for m in _union(minus):
        clipped = (max(span[0], m[0]), min(span[1], m[1]))
        if clipped[0] < clipped[1]:
            total -= sum(overlap(clipped, p) for p in periods)
    return total


def _union(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def periods_of(start_ns: int, end_ns: int, breaks: Iterable[Span]) -> list[Span]:
    """A day's open periods: its working hours without the breaks."""
    out, t = [], start_ns
    for s, e in _union(breaks):
        if s > t:
            out.append((t, min(s, end_ns)))
        t = max(t, e)
    if t < end_ns:
        out.append((t, end_ns))
    return [(s, e) for s, e in out if s < e]


def _punch(staff: str, direction: str, ts_ns: int) -> dict[str, Any]:
    return {"event": "punch", "staff": staff, "direction": direction, "ts_ns": ts_ns}


def away(
    posts: Sequence[PostOf],
    spells: Mapping[str, Sequence[Span]],
    periods: Sequence[Span],
    now_ns: int,
    limits: Limits,
) -> list[Detected]:
    """离岗超时: each empty spell of a post after someone had been on it, longer than the limit in
    open time (up to now, or to when someone came back)."""
    limit = int(limits.away_min * 60 * NS)
    out = []
    for p in posts:
        mine = [(s, e, who) for who in (p.a, p.b) if who for s, e in spells.get(who, ())]
        staffed = _union((s, e) for s, e, _ in mine)
        if not staffed:
            continue  # nobody came: 工作准备不到位, not away
        for (_, left), (back, _) in zip(staffed, [*staffed[1:], (now_ns, now_ns)], strict=True):
            if left >= now_ns:
                continue  # on it now
            if open_time((left, back), periods) <= limit:
                continue
            who = next(w for s, e, w in sorted(mine, key=lambda x: -x[1]) if e == left)
            ev = [_punch(who, "out", left)] + ([_punch_back(mine, back)] if back < now_ns else [])
            out.append(Detected("away", who, p.window, left, f"away:{p.window}:{who}:{left}", tuple(ev)))
    return out


def _punch_back(mine: Sequence[tuple[int, int, str]], back: int) -> dict[str, Any]:
    who = next(w for s, _, w in mine if s == back)
    return _punch(who, "in", back)


def unready(
    posts: Sequence[PostOf],
    spells: Mapping[str, Sequence[Span]],
    opening_ns: int,
    now_ns: int,
    limits: Limits,
) -> list[Detected]:
    """工作准备不到位: at opening + grace, nobody on the post (the A post's person is named; a B on
    it for A is the AB cover working as it should)."""
    due = opening_ns + int(limits.ready_grace_min * 60 * NS)
    if now_ns < due:
        return []
    out = []
    for p in posts:
        people = [w for w in (p.a, p.b) if w]
        if any(s <= due < e for w in people for s, e in spells.get(w, ())):
            continue
        ev: list[dict[str, Any]] = [{"event": "opening", "ts_ns": opening_ns, "grace_min": limits.ready_grace_min}]
        for w in people:  # when each came in, if they did (after the deadline)
            first = min((s for s, _ in spells.get(w, ())), default=None)
            if first is not None:
                ev.append(_punch(w, "in", first))
        out.append(Detected("unready", p.a, p.window, due, f"unready:{p.window}:{opening_ns}", tuple(ev)))
    return out


@dataclass(frozen=True, slots=True)
class PhoneOut:
    staff: str
    device: str
    slot: int
    in_since_ns: int  # clocked in since
    phone_since_ns: int  # out of the slot since


def phone(
    outs: Iterable[PhoneOut],
    unlocks: Mapping[tuple[str, int], Sequence[int]],
    periods: Sequence[Span],
    now_ns: int,
    limits: Limits,
    window_of: Mapping[str, str] | None = None,
) -> list[Detected]:
    """违规使用手机: a phone out of its slot while its owner is clocked in, for longer than the grace
    in open time, without the time approved unlocks of that slot cover."""
    grace = int(limits.phone_grace_min * 60 * NS)
    covers = int(limits.unlock_covers_min * 60 * NS)
    out = []
    for o in outs:
        start = max(o.in_since_ns, o.phone_since_ns)
        cover = [(u, u + covers) for u in unlocks.get((o.device, o.slot), ()) if u <= now_ns]
        if open_time((start, now_ns), periods, cover) <= grace:
            continue
        ev: list[dict[str, Any]] = [
            {"event": "phone_out", "device": o.device, "slot": o.slot, "ts_ns": o.phone_since_ns},
            _punch(o.staff, "in", o.in_since_ns),
        ]
        ev += [{"event": "unlock", "device": o.device, "slot": o.slot, "ts_ns": u} for u, _ in cover]
        key = f"phone:{o.staff}:{o.phone_since_ns}"
        out.append(Detected("phone", o.staff, (window_of or {}).get(o.staff), start, key, tuple(ev)))
    return out


# -- the lifecycle -----------------------------------------------------------------------------

STATES = ("detected", "confirmed", "dismissed", "appealed", "decided")
# action -> (states it may start from, state it leads to, roles that may take it)
MANAGERS = ("duty_manager", "manager")
ACTIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "confirm": (("detected",), "confirmed", MANAGERS),
    "dismiss": (("detected",), "dismissed", MANAGERS),
    "appeal": (("confirmed",), "appealed", ("staff", *MANAGERS)),
    "decide": (("appealed",), "decided", MANAGERS),
}
OUTCOMES = ("upheld", "overturned")  # a decision on an appeal


class TransitionError(ValueError):
    """The action does not apply to the violation's state (code, what)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def transition(state: str, action: str, role: str, text: str, outcome: str | None = None) -> str:
    """The state after `action`; raises TransitionError when it may not be taken."""
    froms, to, roles = ACTIONS[action]
    if role not in roles:
        raise TransitionError(
            "forbidden", f"role {role} may not {action} a violation; needs one of: {', '.join(roles)}"
        )
    if state not in froms:
        raise TransitionError("violation_state", f"a {state} violation cannot be {action}ed: it needs {froms[0]}")
    if not text.strip():
        raise TransitionError("reason_required", f"{action} needs a reason (an appeal its note)")
    if action == "decide" and outcome not in OUTCOMES:
        raise TransitionError("outcome_required", f"a decision is one of {', '.join(OUTCOMES)}")
    return to


def counts(state: str, outcome: str | None) -> bool:
    """Whether a violation counts towards the strikes: confirmed, under appeal (the confirmation
    stands until a decision overturns it), or upheld."""
    return state in ("confirmed", "appealed") or (state == "decided" and outcome == "upheld")


def strike(counted: int, limit: int, escalated: bool) -> bool:
    """Whether this person's confirmed violations in the period call for the escalation now."""
    return counted >= limit and not escalated
