"""Attendance machine (考勤机), wire kind `attendance`.

Punches (channel `punch`): `{"seq","ts","staff_id","method","direction"}`. Stores up to 100,000
punches while offline and uploads them oldest first at up to 200 per second on reconnect. Its clock
(`ts`) is its own: `clock_offset_s` drifts it; `double_punch_ratio` makes one touch give two punches.

Its faults (the demo's discipline scenario, README "Simulators"): `leave_post` (`staff`, `minutes`
default 20, `cover`: the post's other person): the person clocked in and left `minutes` ago (their
punches uploaded now with the times they were made), the cover out from then too; `on_duty`
(`staff`, `minutes` default 30): the person clocked in `minutes` ago.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from firmware_sim.common import iso_ts
from firmware_sim.kinds.base import FaultError, KindFault, SimKind, number
from firmware_sim.mqtt_device import MqttDevice

METHODS = ("face", "fingerprint", "card")
DIRECTIONS = ("in", "out", "unknown")


class AttendanceMachine(MqttDevice):
    kind = "attendance"
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
        present_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        """`mode`: "auto" (in/out alternates per staff member) or a fixed direction in/out/unknown.
        `present_ratio` (auto mode): a working day rather than coin flips: that share of the staff
        clock in when the machine starts (punches it uploads at its first connect), and later
        punches keep about that share inside (each one someone coming in, or, less often, going out)."""
        super().__init__(device_id, **kwargs)
        if mode not in ("auto", *DIRECTIONS):
            raise ValueError(f"{device_id}: mode must be auto, in, out or unknown, not {mode!r}")
        if present_ratio is not None and not 0 < present_ratio < 1:
            raise ValueError(f"{device_id}: present_ratio must be between 0 and 1, not {present_ratio!r}")
        self.staff_ids = [f"S{n:04d}" for n in range(1, staff + 1)]
        self.mode = mode
        self.double_punch_ratio = double_punch_ratio
        self.present_ratio = present_ratio
        self._inside: set[str] = set()
        if present_ratio is not None and mode == "auto":
            for staff_id in self.rng.sample(self.staff_ids, round(present_ratio * staff)):
                self.punch(staff_id, direction="in")

    def punch(
        self,
        staff_id: str | None = None,
        *,
        method: str | None = None,
        direction: str | None = None,
        ago_s: float = 0.0,
    ) -> dict[str, Any]:
        """One punch (made-up fields are seeded), made `ago_s` seconds before now by the device's
        clock; returns the punch as queued for upload."""
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
        fields = {"staff_id": staff_id, "method": method, "direction": direction}
        return self.emit(fields | ({"ts": iso_ts(self.clock_offset_s - ago_s)} if ago_s else {}))

    def burst_event(self) -> None:
        self.spontaneous()

    def spontaneous(self) -> None:
        punch = self.punch(self._someone())
        if self.rng.random() < self.double_punch_ratio:
            self.spawn(self._again(punch))

    def _someone(self) -> str | None:
        """Who punches next: anyone (None) by default; with present_ratio, someone outside comes in,
        or someone inside leaves with odds that hold the share inside near present_ratio."""
        p = self.present_ratio
        if p is None or self.mode != "auto":
            return None
        outside = [s for s in self.staff_ids if s not in self._inside]
        leave = len(self._inside) * (1 - p)
        if self._inside and (not outside or self.rng.random() * (leave + len(outside) * p) < leave):
            return self.rng.choice(sorted(self._inside))
        return self.rng.choice(outside) if outside else None

    async def _again(self, punch: dict[str, Any]) -> None:
        await asyncio.sleep(1.0)
        self.emit({k: punch[k] for k in ("staff_id", "method", "direction")})

    def set_clock_offset(self, seconds: float) -> None:
        """Drift (or reset) the device clock: later `ts` values are off by `seconds`."""
        self.clock_offset_s = seconds


def _staff(machine: AttendanceMachine, params: Mapping[str, Any], key: str = "staff") -> str:
    value = params.get(key)
    if value not in machine.staff_ids:
        raise FaultError(
            f"{key}: {value!r} is not a staff id of {machine.device_id} (S0001-S{len(machine.staff_ids):04d})"
        )
    return str(value)


def _check_leave(machine: AttendanceMachine, params: Mapping[str, Any]) -> None:
    _staff(machine, params)
    number(params, "minutes", 20, 1, 600)
    if params.get("cover") is not None:
        _staff(machine, params, "cover")


def leave_post(machine: AttendanceMachine, params: Mapping[str, Any]) -> None:
    """离岗: on the post until `minutes` ago (in 10 minutes before that), gone since; the post's
    cover (its other person) out from then too, so nobody is on it."""
    _check_leave(machine, params)
    ago = number(params, "minutes", 20, 1, 600) * 60
    machine.punch(_staff(machine, params), direction="in", ago_s=ago + 600)
    machine.punch(_staff(machine, params), direction="out", ago_s=ago)
    if params.get("cover") is not None:
        machine.punch(_staff(machine, params, "cover"), direction="out", ago_s=ago - 1)


def _check_on_duty(machine: AttendanceMachine, params: Mapping[str, Any]) -> None:
    _staff(machine, params)
    number(params, "minutes", 30, 1, 600)


def on_duty(machine: AttendanceMachine, params: Mapping[str, Any]) -> None:
    """Clocked in `minutes` ago (a later in-punch of the day does not move that)."""
    _check_on_duty(machine, params)
    machine.punch(_staff(machine, params), direction="in", ago_s=number(params, "minutes", 30, 1, 600) * 60)


KIND = SimKind(
    AttendanceMachine.kind,
    "mqtt",
    AttendanceMachine,
    faults={
        "leave_post": KindFault(leave_post, None, _check_leave),
        "on_duty": KindFault(on_duty, None, _check_on_duty),
    },
)
