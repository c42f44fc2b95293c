"""The gateway's alerts: the lifecycle fed by health and the gateway's own watch, kept in the state
database, each change queued for delivery (MQTT, webhook) in the same transaction."""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import datetime, time
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from gateway.alerts.lifecycle import Alert, Book
from gateway.alerts.rules import device_conditions
from gateway.config.alerts import Alerts as AlertsConfig
from gateway.domain.canonical import STATUS, Event
from gateway.domain.conditions import Condition
from gateway.health import HealthBook
from gateway.i18n.catalogue import say
from gateway.kinds.base import Kind
from gateway.store.journal import Journal
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
UNSAVED_DELIVERIES_MAX = 10_000  # alert deliveries held in memory while the state database cannot be written
ACTIVE_LOADED = 20_000  # active alerts read at start (the book keeps the conditions' and the newest others)
LOGGED_SLACK = 64  # what the log said of alerts let go from memory is forgotten past this many


def _alert(row: tuple[Any, ...]) -> Alert:
    """A row of the alerts table (its columns are Alert's fields, in order; `params` as JSON)."""
    a = Alert(*row)
    return replace(a, manual=bool(a.manual), params=None if a.params is None else json.loads(str(a.params)))


def in_quiet_hours(now_ns: int, start: time, end: time, tz: str) -> bool:
    t = datetime.fromtimestamp(now_ns / 1e9, ZoneInfo(tz)).time()
    return start <= t < end if start <= end else t >= start or t < end


def worded(c: Condition) -> Condition:
    """A condition's summary in the catalogue's words (its rule's template), if it carries the specifics."""
    if not c.params or c.template is not None:  # no specifics, or worded where it was made
        return c
    params = {"device": c.device, **c.params}
    return replace(c, summary=say(c.rule, params, c.summary), english=c.summary, template=c.rule, params=params)


class AlertDesk:
    """Also a projection: events some kinds declare alarming (a forced-open door) open alerts."""

    name = "alerts"

    def __init__(
        self,
        health: HealthBook,
        kinds: Mapping[str, Kind],
        journal: Journal,
        cfg: AlertsConfig,
        timezone: str,
        targets: tuple[str, ...],
        started_ns: int,
    ) -> None:
        self.health = health
        self.kinds = kinds  # device id -> its kind
        self.journal = journal
        self.cfg = cfg
        self.timezone = timezone
        self.targets = targets
        self.started_ns = started_ns
        self.book = Book(clear_after_ns=int(cfg.clear_after_s * 1e9))
        # what the log last said of each active alert: it says transitions, not each occurrence
        self._logged: dict[int, tuple[str, str]] = {}
        # Oldest first, so that the book keeps the newest of those only a person closes.
        for row in reversed(journal.alert_rows(active=True, limit=ACTIVE_LOADED)):
            a = _alert(row)
            self.book.put(a)
            self._logged[a.id] = (a.state, a.severity)
        self._forget_logged()
        self.book.counts.update(journal.active_alerts_by_severity())
        self.book.next_id = journal.max_alert_id() + 1
        self.held_back = 0  # deliveries not made in quiet hours
        self._gateway: list[Condition] = []  # the gateway's own conditions at the last tick
        self._dirty = False
        self.evaluation_s = 0.0  # CPU spent evaluating rules (wall time of a synchronous call)
        self.on_change: list[Callable[[list[Alert]], None]] = []
        # Changes the state database has not taken yet (it cannot be written): saved with the next
        # change, or by its retry every half second; the alerts live on in the book meanwhile.
        self._unsaved: dict[int, Alert] = {}
        self._unsaved_deliveries: list[tuple[str, str]] = []
        journal.file.writes.pending.append(self._save)

    # -- in ----------------------------------------------------------------------------------

    def apply(self, event: Event, now_ns: int) -> None:
        if event.name == STATUS:
            # A will or an offline status: alert at the end of this batch, not at the next tick
            # (once per batch: a broker restart brings every device's status at once).
            self._dirty = True
            return
        alarm = self.kinds[event.device].alarm
        c = alarm(event) if alarm is not None else None
        if c is not None:
            self.raise_condition(c, now_ns)

    def raise_condition(self, c: Condition, now_ns: int) -> None:
        """Something that happened (not a state that holds): opens an alert or counts once more."""
        c = replace(worded(c), severity=self.cfg.severity.get(c.rule) or c.severity)
        self._recall(c)
        self._changed([self.book.raise_(c, now_ns)], now_ns)

    def resolve(self, rule: str, key: str, now_ns: int, since_ns: int = 0) -> None:
        a = self.book.resolve(rule, key, now_ns, since_ns)
        if a is not None:
            self._changed([a], now_ns)

    def after_batch(self, now_ns: int) -> None:
        if self._dirty:
            self._dirty = False
            self.evaluate(now_ns, self._gateway)

    def evaluate(self, now_ns: int, gateway: list[Condition]) -> list[Alert]:
        started = perf_counter()
        self._gateway = gateway
        holding = device_conditions(self.health.devices.values(), self.started_ns, now_ns, self.cfg.severity)
        gateway = [worded(c) for c in gateway]
        for c in gateway:
            self._recall(c)
        changed = self.book.evaluate(holding + gateway, now_ns)
        if changed:
            self._changed(changed, now_ns)
        self.evaluation_s += perf_counter() - started
        return changed

    def _recall(self, c: Condition) -> None:
        """An open alert of this incident that the book no longer keeps in memory, back into it (so
        that its condition coming again is one more occurrence, not a second alert)."""
        if not c.manual or (c.rule, c.key) in self.book.active:
            return
        row = self.journal.active_alert_row(c.rule, c.key)
        if row is not None:
            self.book.put(_alert(row))

    def _recall_id(self, alert_id: int) -> None:
        if self.book.find(alert_id) is None:
            a = self.find(alert_id)
            if a is not None and a.active:
                self.book.put(a)

    def ack(self, alert_id: int, who: str, note: str, now_ns: int) -> Alert | None:
        self._recall_id(alert_id)
        a = self.book.ack(alert_id, who, note, now_ns)
        if a is not None:
            self._changed([a], now_ns)
        return a

    def close(self, alert_id: int, who: str, note: str, now_ns: int) -> Alert | None:
        self._recall_id(alert_id)
        a = self.book.close(alert_id, who, note, now_ns)
        if a is not None:
            self._changed([a], now_ns)
        return a

    # -- out ---------------------------------------------------------------------------------

    def _changed(self, alerts: list[Alert], now_ns: int) -> None:
        deliveries = []
        for a in alerts:
            body = json.dumps({"type": "change", "alert": asdict(a)}, ensure_ascii=False, separators=(",", ":"))
            for target in self.targets:
                if target == "webhook" and self._quiet(a, now_ns):
                    self.held_back += 1
                    continue
                deliveries.append((target, body))
            self._log(a)
        self._unsaved.update((a.id, a) for a in alerts)
        self._unsaved_deliveries += deliveries
        try:
            self._save()
        except Unwritable:
            del self._unsaved_deliveries[:-UNSAVED_DELIVERIES_MAX]  # a long outage keeps the newest
        for listener in self.on_change:
            listener(alerts)

    def _save(self) -> None:
        if not (self._unsaved or self._unsaved_deliveries):
            return
        self.journal.save_alerts(list(self._unsaved.values()), self._unsaved_deliveries)
        self._unsaved.clear()
        self._unsaved_deliveries = []

    def _log(self, a: Alert) -> None:
        """One line per transition (open, acknowledged, resolved, closed, a severity change); an
        occurrence more or a new summary of the same incident is delivered, not logged again."""
        now = (a.state, a.severity)
        if self._logged.get(a.id) == now:
            return
        if a.active:
            self._logged[a.id] = now
            if len(self._logged) > 2 * len(self.book.active) + LOGGED_SLACK:
                self._forget_logged()
        else:
            self._logged.pop(a.id, None)
        level = logging.WARNING if a.active else logging.INFO
        log.log(level, "alert %d %s: %s [%s, %s, %dx]", a.id, a.state, a.summary, a.rule, a.severity, a.occurrences)

    def _forget_logged(self) -> None:
        """What the log said of the alerts the book has let go from memory (the oldest of those
        only a person closes, one per 差评: issue 19) goes too: bounded by the book, not growing
        with every 差评 nobody closes. Such an alert changing later is logged as a change."""
        held = {a.id for a in self.book.active.values()}
        self._logged = {i: v for i, v in self._logged.items() if i in held}

    def _quiet(self, a: Alert, now_ns: int) -> bool:
        q = self.cfg.quiet_hours
        return (
            q is not None
            and SEVERITY_RANK[a.severity] < SEVERITY_RANK[q.min_severity]
            and in_quiet_hours(now_ns, q.start, q.end, self.timezone)
        )

    # -- reading -------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Newest first; with those the book keeps only in the state database (ACTIVE_LOADED at most)."""
        kept = self.book.active.values()
        if sum(self.book.counts.values()) > len(kept):
            ids = {a.id for a in kept}
            rows = self.journal.alert_rows(active=True, limit=ACTIVE_LOADED)
            kept = [*kept, *(a for r in rows if (a := _alert(r)).id not in ids)]
        return sorted(kept, key=lambda a: a.id, reverse=True)

    def active_counts(self) -> dict[str, int]:
        """Every active alert, by severity (without reading them)."""
        return {s: self.book.counts[s] for s in SEVERITY_RANK}

    def recent(self, limit: int = 200) -> list[Alert]:
        return [_alert(r) for r in self.journal.alert_rows(active=False, limit=limit)]

    def find(self, alert_id: int) -> Alert | None:
        a = self.book.find(alert_id)
        if a is not None:
            return a
        row = self.journal.alert_row(alert_id)
        return None if row is None else _alert(row)

    def summary(self) -> dict[str, Any]:
        # The newest 100 are in memory: the book keeps the newest MANUAL_KEPT (> 100) of those it
        # may keep only in the database.
        newest = heapq.nlargest(100, self.book.active.values(), key=lambda a: a.id)
        counts = self.active_counts()
        return {
            "type": "summary",
            "active": sum(counts.values()),
            "by_severity": counts,
            "alerts": [asdict(a) for a in newest],
        }

    # -- Projection protocol -------------------------------------------------------------------

    def state(self) -> None:
        return None  # alerts are saved as they change

    def restore(self, state: dict[str, Any]) -> None:
        pass
