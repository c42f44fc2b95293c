"""One lifecycle for every alert of the gateway. Pure: the clock is passed in.

A rule reports conditions: (rule, key) names one incident (e.g. `device_offline` of `rp-w07`,
`jammed_lock` of `lb-1f/slot 3`). While a condition holds its alert stays open (acknowledging it
does not close it); when the condition has been clear for `clear_after_ns` it resolves, so a
flapping link is one alert, not fifty. Alerts opened by an event that no condition can clear
(a forced-open door, a 差评) stay open until a person closes them.

Those can pile up (a hall's 差评 of a year, none closed yet): the book keeps the newest
`manual_limit` of them in memory, and the older ones only in the state database, still open
(the engine recalls one when a person acts on it, or when its condition comes again); `counts`
are the active alerts by severity, those kept only in the database included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gateway.domain.conditions import Condition, Severity

State = Literal["open", "acknowledged", "resolved", "closed"]
ACTIVE: tuple[State, ...] = ("open", "acknowledged")
CLEAR_AFTER_NS = 30 * 10**9
MANUAL_KEPT = 1000  # alerts only a person closes, kept in memory (the newest)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    rule: str
    key: str
    severity: Severity
    summary: str
    device: str | None
    state: State
    opened_ns: int
    updated_ns: int
    manual: bool = False
    occurrences: int = 1
    clear_since_ns: int | None = None  # the condition stopped holding at ...
    acked_by: str | None = None
    acked_ns: int | None = None
    note: str | None = None
    ended_ns: int | None = None  # resolved or closed
    # The words of `summary` (Condition.english, .template, .params): said again when read, in the
    # reader's language (gateway/alerts/words.py); an alert stored before them has only `summary`.
    english: str | None = None
    template: str | None = None
    params: Mapping[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def said(c: Condition) -> dict[str, Any]:
    """What an alert keeps of its condition's words."""
    params = dict(c.params) if c.template is not None else None
    return {"summary": c.summary, "english": c.english, "template": c.template, "params": params}


@dataclass
class Book:
    """The active alerts by (rule, key), those only a person closes the newest `manual_limit` of
    them (see the module doc); `next_id` and, at start, `counts` come from the state database."""

    active: dict[tuple[str, str], Alert] = field(default_factory=dict)
    next_id: int = 1
    clear_after_ns: int = CLEAR_AFTER_NS
    manual_limit: int = MANUAL_KEPT
    counts: Counter[str] = field(default_factory=Counter)  # every active alert, by severity
    # the active alerts a condition resolves (not those a person closes): the ones to scan each tick
    _auto: set[tuple[str, str]] = field(default_factory=set)
    _manual: dict[tuple[str, str], None] = field(default_factory=dict)  # in memory, oldest first

    def _new(self, c: Condition, now_ns: int) -> Alert:
        a = Alert(self.next_id, c.rule, c.key, c.severity, c.summary, c.device, "open", now_ns, now_ns, c.manual)
        a = replace(a, **said(c))
        self.next_id += 1
        self.counts[a.severity] += 1
        self.put(a)
        return a

    def put(self, a: Alert) -> None:
        """An active alert into memory (new, or recalled from the state database: already counted)."""
        k = (a.rule, a.key)
        self.active[k] = a
        if not a.manual:
            self._auto.add(k)
            return
        self._manual.pop(k, None)
        self._manual[k] = None
        while len(self._manual) > self.manual_limit:
            oldest = next(iter(self._manual))
            del self._manual[oldest]
            del self.active[oldest]  # still open, and counted: the state database has it

    def _drop(self, k: tuple[str, str]) -> None:
        a = self.active.pop(k)
        self.counts[a.severity] -= 1
        self._auto.discard(k)
        self._manual.pop(k, None)

    def _set(self, k: tuple[str, str], a: Alert) -> None:
        """An alert in memory changed (its severity may have)."""
        self.counts[self.active[k].severity] -= 1
        self.counts[a.severity] += 1
        self.active[k] = a

    def raise_(self, c: Condition, now_ns: int) -> Alert:
        """An event-born condition (it happened again): opens an alert or counts one more occurrence."""
        a = self.active.get((c.rule, c.key))
        if a is None:
            return self._new(c, now_ns)
        a = replace(a, occurrences=a.occurrences + 1, updated_ns=now_ns, clear_since_ns=None, **said(c))
        self.put(a)  # the newest again among those a person closes
        return a

    def evaluate(self, holding: Iterable[Condition], now_ns: int) -> list[Alert]:
        """Every condition that holds now (a condition missing here no longer holds); returns the
        alerts that changed. Alerts only a person can close are left alone."""
        now_holding = {(c.rule, c.key): c for c in holding}
        changed = []
        for k, c in now_holding.items():
            a = self.active.get(k)
            if a is None:
                changed.append(self._new(c, now_ns))
            elif a.summary != c.summary or a.severity != c.severity:
                a = replace(a, clear_since_ns=None, severity=c.severity, updated_ns=now_ns, **said(c))
                self._set(k, a)
                changed.append(a)
            elif a.clear_since_ns is not None:
                # Back within the clear period: the same incident goes on (not news for anyone).
                self.active[k] = replace(a, clear_since_ns=None)
        for k in [k for k in self._auto if k not in now_holding]:
            a = self.active[k]
            if a.clear_since_ns is None:
                self.active[k] = replace(a, clear_since_ns=now_ns)
            elif now_ns - a.clear_since_ns >= self.clear_after_ns:
                self._drop(k)
                changed.append(replace(a, state="resolved", ended_ns=now_ns, updated_ns=now_ns))
        return changed

    def resolve(self, rule: str, key: str, now_ns: int, since_ns: int = 0) -> Alert | None:
        """An incident something else explained (a late answer to a command): the active alert of
        (rule, key) opened at or after `since_ns` resolves, even one only a person closes."""
        a = self.active.get((rule, key))
        if a is None or a.opened_ns < since_ns:
            return None
        self._drop((rule, key))
        return replace(a, state="resolved", ended_ns=now_ns, updated_ns=now_ns)

    def find(self, alert_id: int) -> Alert | None:
        return next((a for a in self.active.values() if a.id == alert_id), None)

    def ack(self, alert_id: int, who: str, note: str, now_ns: int) -> Alert | None:
        a = self.find(alert_id)
        if a is None:
            return None
        a = replace(a, state="acknowledged", acked_by=who, acked_ns=now_ns, note=note, updated_ns=now_ns)
        self.active[(a.rule, a.key)] = a
        return a

    def close(self, alert_id: int, who: str, note: str, now_ns: int) -> Alert | None:
        a = self.find(alert_id)
        if a is None:
            return None
        self._drop((a.rule, a.key))
        return replace(
            a,
            state="closed",
            ended_ns=now_ns,
            updated_ns=now_ns,
            note=note,
            acked_by=a.acked_by or who,
            acked_ns=a.acked_ns or now_ns,
        )
