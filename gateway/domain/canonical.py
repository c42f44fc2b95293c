"""Canonical signals: what every profile turns a vendor's wire format into.

The gateway only ever sees these; it never sees a vendor's topic, JSON field or register.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# Event names shared by every device kind. Kind-specific names (rated, door_open, punch, ...)
# come from the profiles.
STATUS = "status"  # fields: online (bool), fw, model, reason
HEARTBEAT = "heartbeat"  # fields: uptime_s, rssi, battery
READING = "reading"  # a Modbus poll: one field per signal
ACK = "ack"  # a device's answer to a command: id, ok, error, ...


class Priority(IntEnum):
    """Outbox classes: a full outbox drops the highest number first."""

    AUDIT = 0  # commands and their outcomes
    EVENT = 1  # ratings, punches, lock and door events, status changes
    TELEMETRY = 2  # periodic samples: heartbeats, counter and sensor readings


@dataclass(frozen=True, slots=True)
class Event:
    device: str  # the configured device id
    name: str
    ts_ns: int  # the device's own time (for polled devices: when the poll answered), epoch ns
    fields: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    @property
    def priority(self) -> Priority:
        if self.name in (HEARTBEAT, READING):
            return Priority.TELEMETRY
        return Priority.EVENT
