"""Deliver queued alert changes (and pickup codes: gateway/commands/notify.py) to each target,
oldest first, each until the target took it.

The queue is a table of the state database, written in the same transaction as the change, so
an alert raised while the network is down (or the gateway killed) is delivered when it is back.
A webhook gets each change once per delivery id (`X-Hallgate-Delivery`): a receiver that saw an
id already can drop the repeat that follows a lost answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from drivers.backoff import full_jitter
from gateway.store.journal import Journal
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)

Send = Callable[[int, str], Awaitable[None]]  # (delivery id, JSON) -> raises when not taken


@dataclass
class TargetStats:
    delivered: int = 0
    failures: int = 0
    last_error: str | None = None


async def deliver(
    target: str,
    journal: Journal,
    send: Send,
    wake: asyncio.Event,
    stats: TargetStats,
    after_batch: Callable[[], None] | None = None,
    idle_s: float = 5.0,
) -> None:
    attempt = 0
    while True:
        pending = journal.pending_deliveries(target)
        if not pending:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), idle_s)
            continue
        for delivery_id, payload in pending:
            try:
                await send(delivery_id, payload)
            except Exception as e:
                stats.failures += 1
                stats.last_error = f"{type(e).__name__}: {e}"
                with contextlib.suppress(Unwritable):  # only the attempt count is not kept
                    journal.delivery_failed(delivery_id, stats.last_error)
                delay = full_jitter(attempt, base=0.5, cap=60.0)
                attempt += 1
                # One line when deliveries start failing and one when they go again (with the count).
                level = logging.WARNING if attempt == 1 else logging.DEBUG
                log.log(level, "delivery to %s failed (%s); retrying in %.1f s", target, stats.last_error, delay)
                await asyncio.sleep(delay)
                break
            try:
                journal.delivered(delivery_id)
            except Unwritable:
                # Sent, but the state database cannot record it (logged once there): once it
                # can, this delivery goes again, and its id lets the receiver drop the repeat.
                while journal.file.writes.down:
                    await asyncio.sleep(1.0)
                break
            stats.delivered += 1
            if attempt:
                log.warning("delivery to %s goes again after %d failed attempts", target, attempt)
            attempt = 0
        else:
            if after_batch is not None:
                after_batch()


def webhook_sender(client: httpx.AsyncClient, url: str, token: str | None) -> Send:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    async def send(delivery_id: int, payload: str) -> None:
        r = await client.post(
            url, content=payload.encode(), headers=headers | {"X-Hallgate-Delivery": str(delivery_id)}
        )
        if not 200 <= r.status_code < 300:
            raise RuntimeError(f"webhook answered {r.status_code}")

    return send


def mqtt_sender(
    publish: Callable[[str, bytes], object], connected: Callable[[], bool], topic: str, timeout_s: float = 10.0
) -> Send:
    """Publish at QoS 1 and wait for the broker's PUBACK (paho's MQTTMessageInfo)."""

    async def send(delivery_id: int, payload: str) -> None:
        if not connected():
            raise ConnectionError("broker not connected")
        info = publish(topic, payload.encode())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not info.is_published():  # type: ignore[attr-defined]
            if loop.time() > deadline:
                raise TimeoutError(f"no PUBACK within {timeout_s} s")
            await asyncio.sleep(0.02)

    return send
