"""The fault hooks of an MQTT device (a mixin of `MqttDevice`): what firmware_sim/faults.py and
the scenarios do to it — power loss, a network cut, a reboot, garbage, a backlog burst, a flaky link.

They only flip the device's own switches (`_powered`, `_online_allowed`, `_drop`) and fill its
outbox; the session (firmware_sim/mqtt_session.py) acts on them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from firmware_sim.common import CST
from firmware_sim.garbage import garbage_payload


class FaultHooks:
    # The device's state these hooks use (MqttDevice.__init__ sets it).
    rng: random.Random
    event_channel: str
    clock_offset_s: float
    _boot: float
    _clean_drop: bool
    _outbox: deque[tuple[str, str | bytes]]
    _outbox_changed: asyncio.Event
    _sent: deque[tuple[str, str | bytes]]
    _online_allowed: asyncio.Event
    _powered: asyncio.Event
    _drop: asyncio.Event
    emit: Callable[[dict[str, Any]], dict[str, Any]]

    def crash(self) -> None:
        """Power loss / firmware crash: the TCP connection drops without DISCONNECT (the broker
        publishes the will) and the device stays dead until `come_back()` (uptime restarts)."""
        self._powered.clear()
        self._online_allowed.clear()
        self._drop.set()

    def go_offline(self, clean: bool = False) -> None:
        """Network cut: the connection drops abruptly (will published); the device keeps working
        and stores its events until `come_back()`. `clean`: it publishes status offline (reason
        shutdown) and disconnects properly instead, as when switched off by its menu."""
        self._clean_drop = clean
        self._online_allowed.clear()
        self._drop.set()

    def reboot(self, clock_reset: bool = False) -> None:
        """Power cycle: an abrupt drop (the will), then a boot with uptime from 0; events stored
        before are kept (flash). `clock_reset`: the clock restarts at 2000-01-01 as after a
        power cut with a flat RTC battery, so later events carry wrong dates."""
        self.crash()
        if clock_reset:
            self.clock_offset_s = datetime(2000, 1, 1, tzinfo=CST).timestamp() - time.time()
        self.come_back()

    def inject_garbage(self, kind: str, count: int = 1) -> None:
        """Queue `count` malformed messages on the event channel (see firmware_sim/garbage.py)."""
        for _ in range(count):
            self._outbox.append((self.event_channel, garbage_payload(kind, self.rng)))
        self._outbox_changed.set()

    def burst_event(self) -> None:
        """One event of everyday activity, emitted now (for backlog bursts); kinds override."""
        self.emit({})

    def backlog_burst(self, events: int, repeat: int = 0) -> None:
        """Queue `events` new events at once and re-queue the last `repeat` already-sent events
        (the same seq: a range uploaded again after a power loss); they go out oldest first."""
        again = list(self._sent)[-repeat:] if repeat > 0 else []
        self._outbox.extendleft(reversed(again))
        for _ in range(events):
            self.burst_event()
        self._outbox_changed.set()

    def drop_connection(self) -> None:
        """A flaky link: drop the connection abruptly once; the device reconnects at once."""
        self._drop.set()

    def come_back(self) -> None:
        """End a crash or a network cut: the device (re)boots if needed and reconnects."""
        if not self._powered.is_set():
            self._boot = time.monotonic()
            self._powered.set()
        self._online_allowed.set()
