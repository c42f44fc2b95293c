"""The hub: canonical events in; commit, acknowledge, then every projection.

Everything that comes up from a device passes here once. Messages are decoded by the ingress
(gateway/ingest/decode.py), each inside its own error boundary: what fails is set aside in the
quarantine (state database) and the rest of the batch goes on, so no message can stop the hall.
The batch's records are committed to the outbox before anything is acknowledged or shown; then
each event goes to every projection (health, occupancy, ...) inside the projection's own error
boundary: a projection that raises is counted and logged and never blocks the acknowledgement or
the others. With ingest workers (gateway/ingest/workers.py), they decode and commit, and `accept` takes
the rest of their batches here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.modbus import TICK_S, ModbusFailure
from drivers.mqtt.options import Message
from drivers.profiles.errors import DecodeError
from gateway.devices import DeviceEntry
from gateway.domain.canonical import READING, Event, Priority
from gateway.domain.conditions import Condition
from gateway.domain.recent import Recent
from gateway.health import HealthBook
from gateway.ingest.decode import Decoded, Ingress, reason_of
from gateway.ingest.poll_lines import reading_line
from gateway.kinds.base import AfterBatch, HasConditions, KeepsRecords, Projection
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox
from gateway.store.points import to_line
from gateway.store.staged import Staged
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)

Clock = Callable[[], int]
# Poll results are nobody's acknowledgement: a fifth of a second of them may share a commit.
# Flushes fall halfway between the pollers' ticks, never on one: the polls of a tick are then
# always in the same flush, and every counter's sample is refreshed once per period exactly.
POLL_FLUSH_S = 2 * TICK_S
UNKNOWN_LIMIT = 1000  # unknown devices remembered (the most recently seen): a flood of invented topics
UNKNOWN_CHANNEL_LIMIT = 200  # unknown channels of configured devices remembered, all devices together
UNKNOWN_LOGGED_PER_MIN = 5  # new unknown devices named in the log a minute; the rest are counted


@dataclass
class Unknown:
    """A device that publishes under the hall's topics but is not configured; or, with `device`,
    a channel (the topic's last level) a configured device's profile does not know."""

    base: str  # the topic less its last level; for a channel: the channel
    first_ns: int
    last_ns: int
    messages: int = 0
    last_topic: str = ""
    device: str | None = None


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
        self.unknown: Recent[str, Unknown] = Recent(UNKNOWN_LIMIT)
        self.unknown_channels: Recent[tuple[str, str], Unknown] = Recent(UNKNOWN_CHANNEL_LIMIT)
        self._unknown_log = (-(10**18), 0, 0)  # (window start, named in it, counted in it)
        self.store_error: tuple[int, str] | None = None  # (since, what) while the outbox refuses commits
        self.ingress = Ingress(site, devices)
        self._kinds = self.ingress.kinds
        self._polled: list[Event] = []

    def subscriptions(self) -> list[tuple[str, int]]:
        return self.ingress.subscriptions()

    # -- in ---------------------------------------------------------------------------------

    def ingest_mqtt(self, messages: Iterable[Message]) -> None:
        """Decode, quarantine what fails, commit the rest; raises only if the commit failed.

        The records the projections staged (ratings, punches) are committed before this returns,
        that is before the batch is acknowledged: a gateway killed right after the PUBACK has
        them. While the state database cannot be written they stay staged (retried every half
        second, and /readyz says so)."""
        now = self.clock()
        decoded = self.ingress.decode(messages, now)
        self._note(decoded, now)
        self._commit(decoded.records)
        self._project(decoded.events, now)
        for store in self._staged():
            store.flush_logged()

    def accept(self, decoded: Decoded) -> None:
        """A batch an ingest worker decoded and already committed to its own outbox."""
        now = self.clock()
        self._note(decoded, now)
        self.stats["events"] += len(decoded.events)
        self._project(decoded.events, now)

    def commit_records(self) -> None:
        """Commit what the projections staged for their records now (they otherwise do on the loop's
        next turn); raises if it cannot be. An ingest worker forgets its events only after this."""
        for store in self._staged():
            store.flush()

    def _staged(self) -> Iterator[Staged]:
        for p in self.projections:
            if isinstance(p, KeepsRecords) and p.store is not None:
                yield p.store

    def _note(self, d: Decoded, now: int) -> None:
        for q in d.bad:
            if q.device is not None:
                self.health.bad_payload(q.device, q.reason, q.detail[:200])
        if d.bad:
            if self.journal is not None:
                try:
                    self.journal.quarantine(d.bad)
                except Unwritable:
                    # The state database is down (logged once, counted there): the batch's good
                    # records still go to the outbox; only the copies kept for a person are lost.
                    self.stats["quarantine_lost"] += len(d.bad)
            self.quarantined.update(q.reason for q in d.bad)
            self.stats["quarantined"] += len(d.bad)
        for topic in d.unknown:
            self._unknown_topic(topic, now)
        for device, channel, topic in d.unknown_channels:
            u, _ = self.unknown_channels.seen(
                (device, channel), lambda c=channel, d=device: Unknown(c, now, now, device=d)
            )
            u.last_ns, u.last_topic = now, topic
            u.messages += 1
        if d.commands_seen:
            self.stats["commands_seen"] += d.commands_seen

    def on_poll(self, device: str) -> Callable[[dict[str, Any] | None, ModbusFailure | None, int, float], None]:
        contract = self.ingress.contracts.get(device)  # the kind's word on readings lacking a signal

        def result(values: dict[str, Any] | None, error: ModbusFailure | None, ts_ns: int, rtt_s: float) -> None:
            self.health.round_trip(device, rtt_s, ok=error is None)
            if error is not None:
                self.stats["poll_error"] += 1
                self.health.poll_failed(device, str(error), error.cause, ts_ns)
                self.health.flush()
                return
            assert values is not None
            event = Event(device, READING, ts_ns, values)
            if contract is not None:
                try:
                    event = contract(event)
                except DecodeError as e:
                    self.quarantined[e.reason] += 1
                    self.stats["quarantined"] += 1
                    self.health.bad_payload(device, e.reason, str(e)[:200])
                    return
            self._polled.append(event)
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
                reason = reason_of(err)
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
                except Unwritable:
                    self.stats["state_unwritable"] += 1  # the state database is down: logged once there
                    continue
                except Exception:
                    self.projection_errors[p.name] += 1
                    if self._may_complain(f"projection {p.name}"):
                        log.exception("projection %s failed on %s (counted; it goes on with the next event)", p.name, e)
                    continue
                if out:
                    derived += out
        for p in self.projections:
            if not isinstance(p, AfterBatch):
                continue
            try:
                p.after_batch(now)
            except Unwritable:
                self.stats["state_unwritable"] += 1
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
            if not isinstance(p, HasConditions):
                continue
            try:
                out += p.conditions(now_ns)
            except Unwritable:
                self.stats["state_unwritable"] += 1
            except Exception:
                self.projection_errors[p.name] += 1
                if self._may_complain(f"projection {p.name}"):
                    log.exception("projection %s: its conditions could not be read", p.name)
        return out

    def _unknown_topic(self, topic: str, now: int) -> None:
        self.stats["unknown_topic"] += 1
        base = topic.rpartition("/")[0]
        u, new = self.unknown.seen(base, lambda: Unknown(base, now, now))
        if new:
            self.stats["unknown_devices_seen"] += 1
            self._log_unknown(base, now)
        u.last_ns, u.last_topic = now, topic
        u.messages += 1

    def _log_unknown(self, base: str, now: int) -> None:
        """A few new unknown devices a minute by name, the rest as a count: a flood of invented
        ids cannot flood the log (the list has them, newest first)."""
        window, named, unnamed = self._unknown_log
        if now - window >= 60 * 10**9:
            if unnamed:
                log.warning("%d more devices that are not configured published in the last minute", unnamed)
            window, named, unnamed = now, 0, 0
        if named < UNKNOWN_LOGGED_PER_MIN:
            named += 1
            log.warning("messages on %s from a device that is not configured (listed under unknown devices)", base)
        else:
            unnamed += 1
        self._unknown_log = (window, named, unnamed)

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
        return self.ingress.may_complain(key, self.clock())

    def _complain(self, key: str, text: str) -> None:
        """Log a recurring problem at most once a minute per source, so garbage cannot flood the log."""
        if self._may_complain(key):
            log.warning("%s (counted; further ones from %s are counted silently for a minute)", text, key)
