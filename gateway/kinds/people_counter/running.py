"""What the counters add to a running gateway (`Kind.runs`): the nightly reset of their counts
through the command desk (resets.py), and the saving of the zones' finished minutes into the
gateway's own history table, with the hub's state (every few seconds and at shutdown)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.kinds.people_counter import OccupancyProjection
from gateway.kinds.people_counter.resets import reset_counters
from gateway.kinds.wiring import Parts, Running
from gateway.store.journal import Journal
from gateway.store.writes import Unwritable

HISTORY_WAITING_MAX = 100_000  # zone minutes held in memory while the state database cannot be written


def run(running: Running) -> Parts:
    proj = running.projections.of(OccupancyProjection)
    if proj is None:
        return Parts()
    keep_ns = running.cfg.occupancy.history_days * 86400 * 10**9
    parts = Parts(savers=[history_saver(proj, running.journal, keep_ns)])
    if proj.resets_counters:
        # Zones whose nightly reset writes their counters' reset register: through the command desk.
        desk = running.desk
        parts.tasks["counter resets"] = lambda: reset_counters(proj, desk)
    return parts


def history_saver(proj: OccupancyProjection, journal: Journal, keep_ns: int) -> Callable[[], None]:
    """Moves the zones' finished minutes into the gateway's own history table."""
    waiting: list[tuple[str, int, int, int, int, int]] = []  # minutes a full state disk refused

    def save() -> None:
        waiting.extend((b.zone, b.start_ns, b.entered, b.left, b.occupancy, b.clamped) for b in proj.take_history())
        try:
            journal.save_occupancy_minutes(waiting, keep_ns)
        except Unwritable:
            del waiting[:-HISTORY_WAITING_MAX]  # kept for the next save; a long outage keeps the newest
            return
        waiting.clear()

    return save
