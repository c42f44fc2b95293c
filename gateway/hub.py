"""The hub: canonical events in; the durable store first, then the hall's live state.

Everything that comes up from a device passes here once. A record is committed to the outbox
before anything is acknowledged or shown, so what the API shows is never ahead of what is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from drivers.canonical import READING, Event
from drivers.modbus import ModbusFailure
from drivers.mqtt import Message
from drivers.profiles.mqtt_json import DecodeError, MqttDecoder
from gateway.config import HallConfig
from gateway.domain import health
from gateway.domain.health import DeviceHealth
from gateway.domain.occupancy import Doorway, Occupancy, Sample, ZoneCount
from gateway.registry import DeviceEntry
from gateway.store.outbox import Outbox
from gateway.store.points import PointError, to_line

log = logging.getLogger(__name__)

Clock = Callable[[], int]
# Poll results are nobody's acknowledgement: a quarter second of them may share a commit.
POLL_FLUSH_S = 0.25


class Hub:
    def __init__(self, cfg: HallConfig, devices: dict[str, DeviceEntry], outbox: Outbox,
                 clock: Clock = time.time_ns) -> None:
        self.site = cfg.site
        self.devices = devices
        self.outbox = outbox
        self.clock = clock
        self.stats: Counter[str] = Counter()
        self.health = {d.id: DeviceHealth(d.id, d.kind, d.protocol) for d in devices.values()}
        self.occupancy = Occupancy(
            zones={z.id: ZoneCount(z.id, z.capacity) for z in cfg.zones},
            doorways={d.id: Doorway(d.config.zone, d.config.from_zone) for d in devices.values()
                      if d.kind == "people_counter" and d.config.zone},
        )
        # topic -> (device id, channel, decoder): one dict lookup per message.
        self.routes: dict[str, tuple[str, str, MqttDecoder]] = {
            f"{d.topic}/{channel}": (d.id, channel, d.decoder)
            for d in devices.values() if d.decoder is not None
            for channel in d.decoder.channels
        }
        self._last_complaint: dict[str, int] = {}
        self._polled: list[Event] = []

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(topic, 1) for topic in self.routes]

    # -- in ---------------------------------------------------------------------------------

    def ingest_mqtt(self, messages: Iterable[Message]) -> None:
        """Decode a batch from the broker and publish it; raises if it could not be stored."""
        now = self.clock()
        events = []
        for m in messages:
            route = self.routes.get(m.topic)
            if route is None:
                self.stats["unknown_topic"] += 1
                self._complain(m.topic, "message on a topic of no configured device")
                continue
            device, channel, decoder = route
            try:
                events.append(decoder.decode(device, channel, m.payload, now))
            except DecodeError as e:
                self.stats["bad_payload"] += 1
                health.bad_payload(self.health[device], str(e))
                self._complain(device, f"bad payload on {m.topic}: {e}")
        self.publish(events)

    def on_poll(self, device: str) -> Callable[[dict[str, Any] | None, ModbusFailure | None, int], None]:
        def result(values: dict[str, Any] | None, error: ModbusFailure | None, ts_ns: int) -> None:
            if error is not None:
                self.stats["poll_error"] += 1
                health.poll_failed(self.health[device], str(error), ts_ns)
                return
            assert values is not None
            self._polled.append(Event(device, READING, ts_ns, values))
            if len(self._polled) == 1:
                asyncio.get_running_loop().call_later(POLL_FLUSH_S, self.flush)

        return result

    def flush(self) -> None:
        """Store the polls of the last moments in one transaction (one fsync, not one per device)."""
        events, self._polled = self._polled, []
        self.publish(events)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        devices = self.devices
        records = []
        for e in events:
            try:
                records.append((e.priority, to_line(e, self.site, devices[e.device].kind)))
            except PointError as err:
                # Decoded but not storable (e.g. no fields left): counted, never blocks the batch.
                self.stats["unstorable"] += 1
                health.bad_payload(self.health[e.device], str(err))
                self._complain(e.device, f"event {e.name} from {e.device} cannot be stored: {err}")
        self.outbox.append(records)
        self.stats["events"] += len(records)
        now = self.clock()
        for e in events:
            health.observe(self.health[e.device], e, now)
            if e.name == READING and e.device in self.occupancy.doorways:
                f = e.fields
                self.occupancy.sample(e.device, Sample(f["in_total"], f["out_total"], f["uptime_s"]), e.ts_ns)

    def tick(self) -> None:
        now = self.clock()
        for h in self.health.values():
            health.tick(h, now)

    def _complain(self, key: str, text: str) -> None:
        """Log a recurring problem at most once a minute per source, so garbage cannot flood the log."""
        now = self.clock()
        if now - self._last_complaint.get(key, -(10**12)) >= 60 * 10**9:
            self._last_complaint[key] = now
            log.warning("%s (counted; further ones from %s are counted silently for a minute)", text, key)
