"""The hub: canonical events in; commit, acknowledge, then every projection.

Everything that comes up from a device passes here once. Each message is decoded and turned into
a line inside its own error boundary: what fails is set aside in the quarantine (state database)
and the rest of the batch goes on, so no message can stop the hall. The batch's records are
committed to the outbox before anything is acknowledged or shown; then each event goes to every
projection (health, occupancy, ...) inside the projection's own error boundary: a projection
that raises is counted and logged and never blocks the acknowledgement or the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho_topic

from drivers.canonical import READING, Event, Priority
from drivers.modbus import TICK_S, ModbusFailure
from drivers.mqtt import Message
from drivers.profiles.mqtt_json import DecodeError
from gateway.alerts.lifecycle import Condition
from gateway.health import HealthBook
from gateway.kinds import Projection
from gateway.poll_lines import reading_line
from gateway.registry import DeviceEntry
from gateway.store.journal import Journal, Quarantined
from gateway.store.outbox import Outbox
from gateway.store.points import PointError, to_line

log = logging.getLogger(__name__)

Clock = Callable[[], int]
# Poll results are nobody's acknowledgement: a fifth of a second of them may share a commit.
# Flushes fall halfway between the pollers' ticks, never on one: the polls of a tick are then
# always in the same flush, and every counter's sample is refreshed once per period exactly.
POLL_FLUSH_S = 2 * TICK_S
UNKNOWN_LIMIT = 1000  # unknown devices remembered: a flood of invented topics cannot grow memory


@dataclass
class Unknown:
    """A device that publishes under the hall's topics but is not configured."""

    base: str
    first_ns: int
    last_ns: int
    messages: int = 0
    last_topic: str = ""


class Hub:
    def __init__(
        self,
        site: str,
        devices: Mapping[str, DeviceEntry],
        outbox: Outbox,
        health: HealthBook,
        projections: Sequence[Projection] = (),
        journal: Journal | None = None,
        clock: Clock = time.time_ns,
    ) -> None:
        self.site = site
        self.devices = devices
        self.outbox = outbox
        self.health = health
        self.projections: list[Projection] = [health, *projections]
        self.journal = journal
        self.clock = clock
        self.stats: Counter[str] = Counter()
        self.quarantined: Counter[str] = Counter()  # by reason
        self.projection_errors: Counter[str] = Counter()  # by projection
        self.unknown: dict[str, Unknown] = {}
        self.store_error: tuple[int, str] | None = None  # (since, what) while the outbox refuses commits
        # topic -> (device id, channel or None when the payload names it, decoder): one lookup a message.
        self.routes: dict[str, tuple[str, str | None, Any]] = {
            topic: (d.id, channel, d.decoder)
            for d in devices.values()
            if d.decoder is not None
            for topic, channel in d.decoder.topics(d.id, site, d.config.mqtt.topic if d.config.mqtt else None).items()
        }
        self.discovery = f"hall/{site}/+/+/+"
        self._kinds = {d.id: d.kind for d in devices.values()}
        self._last_complaint: dict[str, int] = {}
        self._polled: list[Event] = []

    def subscriptions(self) -> list[tuple[str, int]]:
        """One filter for the hall's own topic tree, which also finds devices publishing there that are
        not configured, and exact topics for devices outside it. Never two filters matching one topic:
        the broker would deliver such a message twice."""
        exact = [t for t in self.routes if not paho_topic.topic_matches_sub(self.discovery, t)]
        return [(self.discovery, 1), *((t, 1) for t in exact)]

    # -- in ---------------------------------------------------------------------------------

    def ingest_mqtt(self, messages: Iterable[Message]) -> None:
        """Decode, quarantine what fails, commit the rest; raises only if the commit failed."""
        now = self.clock()
        events: list[Event] = []
        records: list[tuple[Priority, str]] = []
        bad: list[Quarantined] = []
        for m in messages:
            route = self.routes.get(m.topic)
            if route is None:
                if m.topic.endswith("/cmd"):
                    self.stats["commands_seen"] += 1  # commands to devices, ours included
                else:
                    self._unknown_topic(m.topic, now)
                continue
            device, channel, decoder = route
            try:
                event = decoder.decode(device, channel, m.payload, now)
                line = to_line(event, self.site, self._kinds[device])  # refuses unencodable text
            except Exception as e:  # every failure of one message is that message's alone
                reason = _reason(e)
                bad.append(Quarantined(now, device, m.topic, reason, str(e)[:500], m.payload))
                self.health.bad_payload(device, reason, str(e)[:200])
                if reason == "internal":
                    log.exception("decoding a message on %s failed unexpectedly; quarantined", m.topic)
                else:
                    self._complain(device, f"bad payload on {m.topic} ({reason}): {str(e)[:200]}")
                continue
            events.append(event)
            records.append((event.priority, line))
        if bad:
            if self.journal is not None:
                self.journal.quarantine(bad)
            self.quarantined.update(q.reason for q in bad)
            self.stats["quarantined"] += len(bad)
        self._commit(records)
        self._project(events, now)

    def on_poll(self, device: str) -> Callable[[dict[str, Any] | None, ModbusFailure | None, int, float], None]:
        def result(values: dict[str, Any] | None, error: ModbusFailure | None, ts_ns: int, rtt_s: float) -> None:
            self.health.round_trip(device, rtt_s, ok=error is None)
            if error is not None:
                self.stats["poll_error"] += 1
                self.health.poll_failed(device, str(error), error.cause, ts_ns)
                self.health.flush()
                return
            assert values is not None
            self._polled.append(Event(device, READING, ts_ns, values))
            if len(self._polled) == 1:
                # On a fixed grid, not POLL_FLUSH_S after the first: a device polled at the same
                # phase every period then lands in the same flush every time, so its newest
                # sample is never older than its period (pollers start on a grid too).
                loop = asyncio.get_running_loop()
                half = TICK_S / 2  # between two ticks
                at = math.ceil((loop.time() - half) / POLL_FLUSH_S) * POLL_FLUSH_S + half
                loop.call_at(at, self.flush)

        return result

    def flush(self) -> None:
        """Store the polls of the last moments in one transaction (one fsync, not one per device),
        then project them. A sample like the device's previous one reuses its encoded line."""
        events, self._polled = self._polled, []
        if not events:
            return
        now = self.clock()
        kept, records, bad = [], [], []
        for e in events:
            try:
                records.append((e.priority, reading_line(e, self.site, self._kinds[e.device])))
            except Exception:
                bad.append(e)  # publish() counts and reports it, as for any event
                continue
            kept.append(e)
        try:
            self._commit(records)
            self._project(kept, now)
            if bad:
                self.publish(bad)
        except Exception as e:
            # Samples have no sender to redeliver them: counted and logged, the next poll follows.
            self.stats["polls_lost"] += len(events)
            self._complain("store", f"{len(events)} poll results not stored: {type(e).__name__}: {e}")

    def publish(self, events: list[Event]) -> None:
        """Commit already-decoded events (polls, the gateway's own), then project them."""
        now = self.clock()
        kept, records = [], []
        for e in events:
            try:
                line = to_line(e, self.site, self._kinds[e.device])
            except Exception as err:
                reason = _reason(err)
                self.stats["unstorable"] += 1
                self.health.bad_payload(e.device, reason, str(err)[:200])
                self._complain(e.device, f"event {e.name} from {e.device} cannot be stored: {err}")
                continue
            records.append((e.priority, line))
            kept.append(e)
        self._commit(records)
        self._project(kept, now)

    def _commit(self, records: list[tuple[Priority, str]]) -> None:
        try:
            self.outbox.append(records)
        except Exception as e:
            if self.store_error is None:
                self.store_error = (self.clock(), f"{type(e).__name__}: {e}")
                log.error("the outbox cannot store records: %s; nothing is acknowledged until it can", e)
            raise
        if self.store_error is not None:
            log.warning("the outbox stores records again")
            self.store_error = None
        self.stats["events"] += len(records)

    def _project(self, events: list[Event], now: int) -> None:
        derived: list[tuple[Priority, str]] = []
        for e in events:
            for p in self.projections:
                try:
                    out = p.apply(e, now)
                except Exception:
                    self.projection_errors[p.name] += 1
                    if self._may_complain(f"projection {p.name}"):
                        log.exception("projection %s failed on %s (counted; it goes on with the next event)", p.name, e)
                    continue
                if out:
                    derived += out
        for p in self.projections:
            after = getattr(p, "after_batch", None)
            if after is None:
                continue
            try:
                after(now)
            except Exception:
                self.projection_errors[p.name] += 1
                if self._may_complain(f"projection {p.name}"):
                    log.exception("projection %s failed at the end of a batch", p.name)
        if derived:
            # Derived from what is already committed; a crash just before this loses only these.
            try:
                self._commit(derived)
            except Exception as err:
                self.stats["derived_lost"] += len(derived)
                self._complain("store", f"{len(derived)} derived records not stored: {type(err).__name__}: {err}")

    def conditions(self, now_ns: int) -> list[Condition]:
        """What the projections say holds now, for the alert lifecycle."""
        out: list[Condition] = []
        for p in self.projections:
            fn = getattr(p, "conditions", None)
            if fn is None:
                continue
            try:
                out += fn(now_ns)
            except Exception:
                self.projection_errors[p.name] += 1
                if self._may_complain(f"projection {p.name}"):
                    log.exception("projection %s: its conditions could not be read", p.name)
        return out

    def _unknown_topic(self, topic: str, now: int) -> None:
        self.stats["unknown_topic"] += 1
        base = topic.rpartition("/")[0]
        u = self.unknown.get(base)
        if u is None:
            if len(self.unknown) >= UNKNOWN_LIMIT:
                return
            u = self.unknown[base] = Unknown(base, now, now)
            log.warning("messages on %s from a device that is not configured (listed under unknown devices)", base)
        u.last_ns, u.last_topic = now, topic
        u.messages += 1

    # -- time and state -----------------------------------------------------------------------

    def tick(self) -> None:
        self.health.tick(self.clock())
        self.health.flush()

    def states(self) -> dict[str, dict[str, Any]]:
        out = {}
        for p in self.projections:
            try:
                state = p.state()
            except Exception:
                self.projection_errors[p.name] += 1
                log.exception("projection %s: its state could not be read", p.name)
                continue
            if state is not None:
                out[p.name] = state
        return out

    def restore(self, journal: Journal) -> None:
        for p in self.projections:
            state = journal.load_state(p.name)
            if state is not None:
                try:
                    p.restore(state)
                except Exception:
                    log.exception("projection %s: saved state not usable; starting it afresh", p.name)

    def _may_complain(self, key: str) -> bool:
        now = self.clock()
        if now - self._last_complaint.get(key, -(10**18)) >= 60 * 10**9:
            self._last_complaint[key] = now
            return True
        return False

    def _complain(self, key: str, text: str) -> None:
        """Log a recurring problem at most once a minute per source, so garbage cannot flood the log."""
        if self._may_complain(key):
            log.warning("%s (counted; further ones from %s are counted silently for a minute)", text, key)


def _reason(e: Exception) -> str:
    """A short code for counting: the decoder's own when it gives one."""
    if isinstance(e, DecodeError | PointError):
        code = getattr(e, "reason", None)
        return code if isinstance(code, str) else ("bad_payload" if isinstance(e, DecodeError) else "unstorable")
    if isinstance(e, UnicodeError):
        return "bad_text"
    if isinstance(e, RecursionError):
        return "too_deep"
    return "internal"
