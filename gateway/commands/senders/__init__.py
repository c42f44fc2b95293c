"""One sender per transport: it puts a canonical command on the wire with the device's profile
(drivers/profiles/commands.py) and says whether the device confirmed it: the ack of an MQTT
device (mqtt.py), the read-back of a Modbus board's door sensor or lock-fault bit (modbus.py: a
written coil proves nothing). The desk picks the sender by the device's protocol and keeps the
rest (keys, the ledger, the audit) to itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.profiles.commands import Confirmation
from gateway.commands.request import Check, Request
from gateway.devices import DeviceEntry
from gateway.domain.canonical import Event


@dataclass(frozen=True, slots=True)
class Attempt:
    """One command to send (or, after a restart, to confirm without sending again)."""

    req: Request
    cmd_id: str
    timeout_s: float | None  # the hall's setting; None: the profile's
    check: Check | None  # a Modbus board's state before the pulse
    sent_before: bool  # a restart's recovery: confirm only, never a second pulse
    sending: Callable[[], Awaitable[None]]  # the ledger's write, awaited before the first byte


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str  # confirmed, failed, refused, timeout, offline
    error: str | None
    detail: str
    # A timed-out Modbus command whose read-back goes on in the poller's readings (late.py):
    # its confirmation and whether a fault bit was set before the pulse.
    watch: tuple[Confirmation, bool] | None = None


@dataclass(frozen=True, slots=True)
class Heard:
    """A device's answer to a command id, as the hub brought it up (an MQTT ack)."""

    cmd_id: str
    ok: bool
    error: str | None
    waited: bool  # a command in flight took it; otherwise it is late, a repeat, or unknown
    part: str | None = None  # the part of the command that waited for it


class Sender(Protocol):
    # How long the device remembers a command id it executed (it answers a repeat with its first
    # answer): past it, a restart settles the command as unanswered. None: nothing is sent again.
    remembers_s: float | None

    def check(self, d: DeviceEntry, req: Request) -> None:
        """The profile's own check of the parameters; raises CommandError."""

    def unavailable(self) -> str | None:
        """Why nothing can be sent now (the broker is down), or None."""

    async def send(self, d: DeviceEntry, attempt: Attempt) -> Verdict: ...

    def heard(self, d: DeviceEntry, event: Event) -> Heard | None:
        """The answer an event carries for one of this sender's commands, if any."""

    def snapshot(self, d: DeviceEntry) -> None:
        """Ask the device for its state where the transport can (not audited, not awaited)."""

    async def aclose(self) -> None: ...


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until each has ended (what each raised is theirs to log)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
