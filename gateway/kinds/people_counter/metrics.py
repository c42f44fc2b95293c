"""The zones' figures on /metrics: gateway/metrics.py yields them with every registered kind's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric


class ZoneFigures(Protocol):
    @property
    def zone(self) -> str: ...  # a zone id, or "*" for the whole hall

    @property
    def occupancy(self) -> int: ...

    @property
    def capacity(self) -> int: ...


class ZoneReads(Protocol):
    """What the families read of the read model (gateway/view.py's View): every zone, then the hall."""

    def zones(self) -> Sequence[ZoneFigures]: ...


def metrics(reads: ZoneReads) -> Iterator[Metric]:
    zone = GaugeMetricFamily("hallgate_zone_occupancy_people", "people in the zone", labels=["zone"])
    capacity = GaugeMetricFamily("hallgate_zone_capacity_people", "the zone's configured capacity", labels=["zone"])
    for z in reads.zones():
        zone.add_metric([z.zone], z.occupancy)
        capacity.add_metric([z.zone], z.capacity)
    yield zone
    yield capacity
