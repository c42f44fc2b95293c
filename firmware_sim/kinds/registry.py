"""The simulated device kinds, listed explicitly; hall files, the command line, faults and
scenarios ask here and refuse a kind that is not listed."""

from __future__ import annotations

from typing import Any

from firmware_sim.kinds import attendance, lockbox, people_counter, pickup_locker, queue, rating_pad
from firmware_sim.kinds.base import FaultError, SimKind

KINDS: dict[str, SimKind] = {
    m.KIND.name: m.KIND for m in (rating_pad, lockbox, attendance, queue, pickup_locker, people_counter)
}


def kind_of(device: Any) -> SimKind:
    """The kind of a device object (every device class names its kind)."""
    return KINDS[device.kind]


def known_kind(name: Any) -> SimKind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise FaultError(f"kind: {name!r} is not a simulated device kind; use one of {', '.join(KINDS)}") from None


def kind_faults() -> tuple[str, ...]:
    """Every fault some kind has, in the order the kinds are listed."""
    return tuple(dict.fromkeys(name for k in KINDS.values() for name in k.faults))
