"""Move records from the outbox to a sink: peek -> write -> ack, forever.

The batch is a transaction (Telegraf models/buffer.go): it is acknowledged (deleted) only when
the sink has answered for every line of it, so a crash, a stop or an outage at any moment
leaves it in the outbox to be sent again. Sending again is harmless: a point with the same
measurement, tags and timestamp overwrites itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from drivers.backoff import full_jitter
from gateway.redact import redact
from gateway.store.errors import SinkAuth, SinkReject, SinkRetry, SinkTooLarge
from gateway.store.outbox import Outbox, OutboxCursor
from gateway.store.pace import TokenBucket
from gateway.store.sinks import Sink

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
AUTH_RETRY_S = 60.0  # wrong credentials do not fix themselves in seconds
BISECT_BUDGET = 32  # extra requests spent finding the bad lines of one rejected batch
RATE_WINDOW_S = 10.0


@dataclass
class DrainStats:
    delivered_total: int = 0
    rejected_total: int = 0
    batches_total: int = 0
    splits_total: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None
    connected: bool = False  # the sink answered the last request (whatever it said)
    healthy: bool = False  # the last request succeeded: for /readyz
    _window: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def rate(self, now: float) -> float:
        """Points delivered per second over the last RATE_WINDOW_S seconds."""
        while self._window and self._window[0][0] < now - RATE_WINDOW_S:
            self._window.popleft()
        return sum(n for _, n in self._window) / RATE_WINDOW_S

    def _delivered(self, now: float, n: int) -> None:
        self.delivered_total += n
        self._window.append((now, n))
        self.rate(now)


async def _wait(event: asyncio.Event, timeout: float | None) -> bool:
    """True when the event was set, False on timeout."""
    if event.is_set():
        return True
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def drain(
    outbox: Outbox | OutboxCursor,
    sink: Sink,
    *,
    batch_size: int = 5000,
    max_wait_s: float = 1.0,
    stop: asyncio.Event,
    stats: DrainStats | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rng: Callable[[], float] = random.random,
    limiter: TokenBucket | None = None,
    start_jitter_s: float = 0.0,
) -> DrainStats:
    """Drain until `stop` is set; returns the stats (pass your own to read them while it runs).

    A full batch goes at once; a partial one waits up to max_wait_s after the previous send for
    more records, so a trickle becomes a few requests a second while a lone event after a quiet
    spell goes out immediately. New records wake the loop (outbox listener), no polling.
    `sleep` replaces the backoff waits (tests move a clock instead of sleeping); by default
    they end early when `stop` is set.

    The district's forwarder adds `limiter` (every write takes its points from the bucket, so
    a catch-up never goes faster than its rate) and `start_jitter_s` (the first write, and every
    retry through an outage, waits at least a random share of it: sites reconnecting together
    spread out).
    """
    stats = stats if stats is not None else DrainStats()
    wakeup = asyncio.Event()
    outbox.add_listener(wakeup.set)

    async def backoff(seconds: float) -> None:
        if sleep is not None:
            await sleep(seconds)
        else:
            await _wait(stop, seconds)

    if limiter is not None:
        batch_size = min(batch_size, limiter.burst)
    if start_jitter_s > 0:
        await backoff(rng() * start_jitter_s)
    last_send = float("-inf")
    attempt = 0
    while not stop.is_set():
        wakeup.clear()
        if outbox.depth_records == 0:
            await _first(stop, wakeup, None)
            continue
        if outbox.depth_records < batch_size:
            linger = last_send + max_wait_s - clock()
            # Wait for more until the deadline or a full batch; each append wakes us to check.
            while linger > 0 and outbox.depth_records < batch_size and not stop.is_set():
                wakeup.clear()
                await _first(stop, wakeup, linger)
                linger = last_send + max_wait_s - clock()
            if stop.is_set():
                break
        batch = outbox.peek(batch_size)
        if not batch:
            await _first(stop, wakeup, max_wait_s)  # nothing for this sink after all: no busy loop
            continue
        last_send = clock()
        pending = [batch.lines]
        rejected = 0
        budget = BISECT_BUDGET
        while pending and not stop.is_set():
            lines = pending[-1]
            if limiter is not None and not await limiter.take(len(lines), stop):
                break
            try:
                await sink.write(lines)
            except SinkRetry as e:
                _error(stats, e, clock())
                stats.connected = "HTTP" in str(e)
                delay = full_jitter(attempt, rng, BACKOFF_BASE_S, BACKOFF_CAP_S)
                if e.retry_after is not None:
                    delay = max(delay, e.retry_after)
                delay = max(delay, rng() * start_jitter_s)
                attempt += 1
                # The first failure is news; the attempts after it are counted (stats, and the
                # line when it writes again), not logged one by one through a long outage.
                level = logging.WARNING if attempt == 1 else logging.DEBUG
                log.log(level, "sink %s: %s; retrying in %.1f s (attempt %d)", sink.name, _text(e), delay, attempt)
                await backoff(delay)
                continue
            except SinkAuth as e:
                _error(stats, e, clock())
                stats.connected = True
                log.error(
                    "sink %s refuses our credentials (%s): keeping %d records, retrying in %.0f s; "
                    "fix the InfluxDB credentials in the configuration",
                    sink.name,
                    _text(e),
                    outbox.depth_records,
                    AUTH_RETRY_S,
                )
                await backoff(AUTH_RETRY_S)
                continue
            except SinkTooLarge as e:
                _error(stats, e, clock())
                stats.connected = True
                pending.pop()
                if len(lines) == 1:
                    # One line over the server's body limit can never be written.
                    rejected += 1
                    log.error(
                        "sink %s: a single %d-byte line is over the size limit; dropped",
                        sink.name,
                        len(lines[0]),
                    )
                    continue
                stats.splits_total += 1
                half = len(lines) // 2
                pending += [lines[half:], lines[:half]]
                continue
            except SinkReject as e:
                _error(stats, e, clock())
                stats.connected = True
                pending.pop()
                if e.partial or len(lines) == 1 or budget <= 0:
                    n = len(lines) if not e.partial or e.rejected is None else min(e.rejected, len(lines))
                    rejected += n
                    log.warning("sink %s rejected %d of %d lines (dropped): %s", sink.name, n, len(lines), _text(e))
                else:
                    # Nothing was stored: find the bad lines by halves so the good ones still go.
                    budget -= 2
                    stats.splits_total += 1
                    half = len(lines) // 2
                    pending += [lines[half:], lines[:half]]
                continue
            pending.pop()
            if attempt:
                log.warning("sink %s: writing again after %d failed attempts", sink.name, attempt)
            attempt = 0
            stats.connected = stats.healthy = True
            stats.last_success_at = clock()
        if pending:
            break  # stopped mid-batch: it stays in the outbox and goes again next time
        outbox.ack(batch, rejected=rejected)
        stats.batches_total += 1
        stats.rejected_total += rejected
        stats._delivered(clock(), len(batch) - rejected)
    return stats


async def _first(stop: asyncio.Event, wakeup: asyncio.Event, timeout: float | None) -> None:
    """Wait for whichever comes first: stop, new records, or the timeout."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _text(e: Exception) -> str:
    """The error as shown in stats (/readyz) and logs. Sinks already remove the secrets they
    know; this also catches credentials a library quoted that the sink did not (a URL with a
    password, a `p=` parameter, an Authorization header)."""
    return redact(str(e))


def _error(stats: DrainStats, e: Exception, now: float) -> None:
    stats.errors_by_type[type(e).__name__] += 1
    stats.last_error = f"{type(e).__name__}: {_text(e)}"
    stats.last_error_at = now
    stats.healthy = False
