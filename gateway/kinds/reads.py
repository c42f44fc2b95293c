"""Read APIs a kind's projection may provide to the rest of the gateway (`Kind.provides`): what a
cross-kind feature or the read model asks for by type, so that it names no kind. A kind declares
which of its projections implements one (`provides={Presence: AttendanceProjection}`); the hub's
projections are then found through `gateway.kinds.lookup.Projections.reads(Presence)`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from gateway.domain.attendance import DailyRecord, PostDay
from gateway.domain.occupancy import Bucket, Occupancy
from gateway.domain.rated_visits import Served, VisitRates
from gateway.domain.ratings import Rating
from gateway.domain.workorders import WorkOrder


class Presence(Protocol):
    """Who is in: staff clocked in now, from the day's punches."""

    def present(self, now_ns: int) -> dict[str, int]:
        """Staff clocked in now -> since when (their current spell today); empty until its store is open."""
        ...

    def working_now(self, now_ns: int) -> bool:
        """Whether `now_ns` is working time (a working day, inside its hours)."""
        ...

    def spells(self, now_ns: int) -> dict[str, list[tuple[int, int]]]:
        """Each person who punched today -> their in spells (clock in, clock out or now), in order."""
        ...

    def post_days(self, d: date, now_ns: int) -> list[PostDay]:
        """Each window post's day `d` (up to now, for today): open, empty (空岗) and covered by B
        (gateway/domain/posts.py), in working time; empty until its store is open."""
        ...


class Slots(Protocol):
    """Each slot's last known state (door, locked, phone, phone_since_ns, since_ns) by device, and
    whose phone goes in which slot."""

    grace_min: float | None  # in working time, a phone out of its slot this long after clocking in: an alert

    def slot(self, device: str, slot: int) -> Mapping[str, Any]:
        """The slot's state; empty when the cabinet has not reported it."""
        ...

    def owners(self) -> Mapping[str, tuple[str, int]]:
        """Staff id -> (device, slot) of their phone."""
        ...


class Zones(Protocol):
    """The zones' figures from the hall's counters, and the minutes the history table has not got yet."""

    occupancy: Occupancy
    history_pending: list[Bucket]
    listeners: list[Callable[[], None]]  # called whenever a zone's figures or flags change

    def suspect(self, zone: str, now_ns: int) -> list[str]: ...

    def open_buckets(self) -> list[Bucket]: ...

    def take_history(self) -> list[Bucket]: ...


class Visits(Protocol):
    """The hall's served visits (tickets called, handled and finished), for what is counted against
    them: a rating names its visit (gateway/domain/rated_visits.py), 评价率 = rated / served."""

    def served(self, start_ns: int, end_ns: int) -> list[Served]:
        """The visits that began in [start, end) and were served, as the provider's own summary
        counts them (its `served`); empty until its store is open."""
        ...


class QueueFigures(Protocol):
    """The queue summary's figures over a period (tickets, served, no-shows, transfers, waiting and
    handling spreads), per group: what the operations reports count."""

    def figures(self, start_ns: int, end_ns: int, by: str | None) -> dict[Any, dict[str, Any]]:
        """Per group of `by` ("window", "staff", "line", "item", "outcome": how each transaction
        ended, None while open; None: one group, None), as the queue's summary gives them (with
        `appointments`, the tickets issued for an appointment); empty until its store is open."""
        ...

    def first_day(self) -> str | None:
        """The hall's first local date (ISO) it holds anything of; None: nothing yet."""
        ...


class RatingsRecord(Protocol):
    """The ratings that count and the 差评 work orders, for the operations reports."""

    def ratings_between(self, start_ns: int, end_ns: int) -> list[Rating]:
        """Every rating (and expired prompt) in [start, end)."""
        ...

    def orders_rated(self, start_ns: int, end_ns: int) -> list[WorkOrder]:
        """The work orders of the 差评 given in [start, end)."""
        ...

    def rated_visits(
        self, visits: Visits, start_ns: int, end_ns: int, groupings: Sequence[str]
    ) -> tuple[VisitRates, dict[str, dict[str, VisitRates]]]:
        """The served visits of [start, end) and how many were rated (评价率 = rated / served, as the
        ratings summary's `visits` counts them), in all and per group of each of `groupings`
        ("window", "staff")."""
        ...

    def first_day(self) -> str | None:
        """The hall's first local date (ISO) it holds anything of; None: nothing yet."""
        ...


class AttendanceDays(Protocol):
    """A day's attendance per person: first in, last out, late, missing punches."""

    def daily(self, d: date, now_ns: int) -> list[DailyRecord]: ...

    def first_day(self) -> str | None:
        """The hall's first local date (ISO) it holds anything of; None: nothing yet."""
        ...
