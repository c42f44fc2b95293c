"""What a device kind is: its configuration parameters, the signals its profile must provide,
its health rules and its projections. One module per kind; `gateway/kinds/__init__.py` lists them.

A kind imports nothing of the transports: it is data and pure functions over canonical events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from drivers.canonical import Event

if TYPE_CHECKING:
    from gateway.config import HallConfig
    from gateway.registry import DeviceEntry

# Device fields of the configuration that only some kinds take (the rest are common to all).
KIND_PARAMS = ("zone", "from_zone", "window", "slots", "doors")

LOW_BATTERY_PERCENT = 20


class Projection(Protocol):
    """A consumer of canonical events, fed by the hub after the commit (one error boundary each).

    `state()`/`restore()` carry what must outlive a restart through the state database.
    """

    name: str

    def apply(self, event: Event, now_ns: int) -> None: ...

    def state(self) -> dict[str, Any] | None: ...

    def restore(self, state: dict[str, Any]) -> None: ...


ProjectionFactory = Callable[["HallConfig", "Mapping[str, DeviceEntry]"], Projection]
Rule = Callable[[Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    params: frozenset[str] = frozenset()  # which of KIND_PARAMS this kind takes
    required_params: frozenset[str] = frozenset()
    # canonical event -> fields a profile of this kind must be able to provide for it
    signals: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # telemetry fields kept as the device's latest info (the health rules read them)
    info: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()
    projections: tuple[ProjectionFactory, ...] = ()

    def problems(self, info: Mapping[str, Any]) -> list[str]:
        """Why an online device of this kind is degraded, from its latest info."""
        return [p for rule in self.rules for p in rule(info)]


def low_battery(info: Mapping[str, Any]) -> list[str]:
    battery = info.get("battery")
    if isinstance(battery, int | float) and not isinstance(battery, bool) and battery < LOW_BATTERY_PERCENT:
        return [f"battery low ({battery:g} %)"]
    return []
