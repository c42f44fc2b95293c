"""Attendance machine (考勤机), wire kind `attendance`.

Punches (channel `punch`): `{"seq","ts","staff_id","method","direction"}`. Stores up to 100,000
punches while offline and uploads them oldest first at up to 200 per second on reconnect. Its clock
(`ts`) is its own: `clock_offset_s` drifts it; `double_punch_ratio` makes one touch give two punches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_sim.mqtt_device import MqttDevice

METHODS = ("face", "fingerprint", "card")
DIRECTIONS = ("in", "out", "unknown")


class AttendanceMachine(MqttDevice):
    wirekind = "attendance"
    model = "AT-300"
    fw = "3.0.4"
    event_channel = "punch"
    max_backlog = 100_000
    upload_rate_per_s = 200.0

    def __init__(
        self,
        device_id: str,
        *,
        staff: int = 40,
        mode: str = "auto",
        double_punch_ratio: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """`mode`: "auto" (in/out alternates per staff member) or a fixed direction in/out/unknown."""
        super().__init__(device_id, **kwargs)
        if mode not in ("auto", *DIRECTIONS):
            raise ValueError(f"{device_id}: mode must be auto, in, out or unknown, not {mode!r}")
        self.staff_ids = [f"S{n:04d}" for n in range(1, staff + 1)]
        self.mode = mode
        self.double_punch_ratio = double_punch_ratio
        self._inside: set[str] = set()

    def punch(
        self, staff_id: str | None = None, *, method: str | None = None, direction: str | None = None
    ) -> dict[str, Any]:
        """One punch (made-up fields are seeded); returns the punch as queued for upload."""
        staff_id = staff_id or self.rng.choice(self.staff_ids)
        method = method or self.rng.choices(METHODS, weights=(70, 20, 10))[0]
        if direction is None:
            auto = "out" if staff_id in self._inside else "in"
            direction = auto if self.mode == "auto" else self.mode
        if direction == "in":
            self._inside.add(staff_id)
        elif direction == "out":
            self._inside.discard(staff_id)
        if direction not in DIRECTIONS or method not in METHODS:
            raise ValueError(f"bad punch: method={method!r} direction={direction!r}")
        return self.emit({"staff_id": staff_id, "method": method, "direction": direction})

    def burst_event(self) -> None:
        self.spontaneous()

    def spontaneous(self) -> None:
        punch = self.punch()
        if self.rng.random() < self.double_punch_ratio:
            self.spawn(self._again(punch))

    async def _again(self, punch: dict[str, Any]) -> None:
        await asyncio.sleep(1.0)
        self.emit({k: punch[k] for k in ("staff_id", "method", "direction")})

    def set_clock_offset(self, seconds: float) -> None:
        """Drift (or reset) the device clock: later `ts` values are off by `seconds`."""
        self.clock_offset_s = seconds
