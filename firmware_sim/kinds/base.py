"""What a simulated device kind declares: its device class and transport, the options it takes
from a hall file's entry, and the faults only it has (a lock that jams, a lens that is blocked).

The common faults (offline, flaky, slow, reboot, ...) belong to the transports and live in
firmware_sim/faults.py; a kind adds only its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from firmware_sim.common import CaseNumbers
from firmware_sim.spec import DeviceSpec


class FaultError(ValueError):
    """A fault that cannot be applied; the message says which parameter and why. `code` is the
    machine word beside it (the control channel answers it): unknown_fault, unknown_device,
    fault_not_supported, or bad_fault for a bad parameter."""

    def __init__(self, message: str, code: str = "bad_fault") -> None:
        super().__init__(message)
        self.code = code


def number(params: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise FaultError(f"{key}: must be a number {lo:g}-{hi:g}, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class KindFault:
    apply: Callable[[Any, Mapping[str, Any]], None]  # (device, parameters)
    clear: Callable[[Any], None] | None = None  # None: a one-shot fault, over once it happened
    check: Callable[[Any, Mapping[str, Any]], Any] | None = None  # raises FaultError before anything starts


@dataclass(frozen=True)
class HallShare:
    """What the devices of one simulated hall share."""

    case_numbers: CaseNumbers  # the case ids the queue system and the rating pads agree on
    rate_per_min: float  # activity: events a minute per device
    # every device of the hall by id, filled as they are built (the queue system finds the
    # rating pad of a window here); read it once the hall is built, not in a constructor
    devices: dict[str, Any] = field(default_factory=dict)


def no_options(spec: DeviceSpec, hall: HallShare) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class SimKind:
    name: str
    transport: Literal["mqtt", "modbus"]
    device: type
    # Constructor options from the hall file's entry; the entry's `sim:` mapping overrides them.
    options: Callable[[DeviceSpec, HallShare], dict[str, Any]] = no_options
    faults: Mapping[str, KindFault] = field(default_factory=dict)
