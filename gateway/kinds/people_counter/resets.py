"""The nightly reset, on the counters themselves: their reset register written through the
command desk, for the zones that ask for it (`zones[].reset_counters`).

The occupancy projection resets a zone's figures at its reset time and queues the zone's
counters; this task writes each one's `reset_counts` command (declared by its profile, e.g. the
reference counter's holding register 16 = 0x5A5A, confirmed by both counts read back near 0).
The desk makes it a command like any other: written to the state database before it is sent,
keyed by the counter and the reset instant (a restart or a repeat never writes twice), refused
when the counter is offline, and audited (actor `nightly reset`, role `system`).

The occupancy figures need nothing from it: the counts dropping to 0 (uptime going on) is read
as a reset, not a reboot or a wrap, and what is counted after the write counts from 0.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.commands.audit import Caller
from gateway.commands.desk import CommandDesk, Refused, Request
from gateway.kinds.people_counter import OccupancyProjection

log = logging.getLogger(__name__)

OP = "reset_counts"  # the profile command that zeroes a counter's counts
CALLER = Caller("system", "nightly reset")


async def reset_counters(proj: OccupancyProjection, desk: CommandDesk) -> None:
    """Write the reset register of every counter the projection queues, until cancelled."""
    wake = asyncio.Event()
    proj.on_counter_reset.append(wake.set)
    try:
        while True:
            if not proj.counter_resets:
                await wake.wait()
                wake.clear()
            batch, proj.counter_resets = proj.counter_resets, []
            # Each on its own line's turn; a counter that does not answer holds only itself.
            await asyncio.gather(*(_reset(desk, *item) for item in batch))
    finally:
        proj.on_counter_reset.remove(wake.set)


async def _reset(desk: CommandDesk, device: str, zone: str, at_ns: int) -> None:
    d = desk.devices.get(device)
    if d is None or OP not in d.profile.commands:
        log.warning("%s: its profile has no %s command: only the zone's baseline was reset", device, OP)
        return
    req = Request(OP, device, OP, {}, "counts", CALLER, f"nightly reset of zone {zone}")
    try:
        outcome = await desk.run(req, f"nightly-reset:{device}:{at_ns}")
    except Refused as e:
        log.warning("%s: the nightly reset of its counts was refused: %s", device, e.detail)
        return
    if not outcome.ok:
        log.warning("%s: the nightly reset of its counts did not take: %s", device, outcome.body.get("detail"))
