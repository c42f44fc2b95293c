"""What kinds and cross-kind features add to a running gateway, and what they are built with.

A kind names its builder in `Kind.runs` ("module:attribute"); a feature (gateway/features/) is
listed in `gateway.features.FEATURES`. Each is called once at start, after the command desk and
the projections exist and before the hub restores its state (so a rider's kept state comes back),
with a `Running`: the hall, the desk, the state database and the projections by type. It adds
its riders to the desk itself and returns the rest as `Parts`, which the runtime starts.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.commands.desk import CommandDesk
from gateway.config.hall import HallConfig
from gateway.feeds import Feed
from gateway.kinds.lookup import Projections
from gateway.kinds.registry import KINDS
from gateway.store.journal import Journal


@dataclass(frozen=True)
class Running:
    cfg: HallConfig
    desk: CommandDesk
    journal: Journal
    projections: Projections
    outbox: Any = None  # the outbox (gateway/store/outbox.py), for a feature that derives records


@dataclass(frozen=True)
class Webhook:
    """A webhook fed from the durable delivery queue's `target` rows (the alerts' queue and sender)."""

    target: str
    hook: Any  # its settings: url, token_env, timeout_s
    wake: asyncio.Event  # set when a row is queued
    # its own sender, given the client the runtime opens (a robot's protocol); else a plain POST
    send: Callable[[Any], Callable[[int, str], Awaitable[None]]] | None = None


@dataclass
class Parts:
    tasks: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)  # supervised, by name
    savers: list[Callable[[], None]] = field(default_factory=list)  # run with the hub's state saving
    serves: list[object] = field(default_factory=list)  # what the API reads, by type (View.served)
    webhooks: list[Webhook] = field(default_factory=list)
    feeds: list[Feed] = field(default_factory=list)  # published on MQTT beside the alerts (gateway/feeds.py)

    def add(self, other: Parts) -> None:
        self.tasks |= other.tasks
        self.savers += other.savers
        self.serves += other.serves
        self.webhooks += other.webhooks
        self.feeds += other.feeds


Builder = Callable[[Running], Parts]


def kind_builders(kinds: Iterable[str]) -> list[Builder]:
    """The builders of these kinds (those of the hall's devices), in the registry's order."""
    present = set(kinds)
    out = []
    for kind in KINDS.values():
        if kind.name in present and kind.runs is not None:
            module, _, name = kind.runs.partition(":")
            out.append(getattr(importlib.import_module(module), name))
    return out


def build(running: Running, builders: Iterable[Builder]) -> Parts:
    parts = Parts()
    for b in builders:
        parts.add(b(running))
    return parts
