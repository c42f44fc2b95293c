"""/readyz's parts: each source's detail, and the problem it reports while it is not ready (the
read model, gateway/view.py, composes them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from drivers.mqtt.options import LinkStats
from gateway.store.drain import DrainStats
from gateway.store.outbox import OutboxStats
from gateway.store.vouch import Vouch
from gateway.store.writes import UNWRITABLE_CODE, UNWRITABLE_MESSAGE, Writes

Check = tuple[dict[str, Any], str | None]  # (detail, the problem or None)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    problems: list[str]
    detail: dict[str, Any] = field(default_factory=dict)


def ago(ts_ns: int) -> str:
    return f"{max(0, (time.time_ns() - ts_ns) // 10**9)} s ago"


def broker_readiness(stats: LinkStats, broker: str) -> Check:
    detail = {"connected": stats.connected, "subscribed": stats.subscribed, "last_error": stats.last_error}
    if not stats.connected:
        return detail, f"broker {broker} not connected: {stats.last_error}"
    if not stats.subscribed:
        return detail, f"broker {broker}: subscriptions not acknowledged"
    return detail, None


def sink_readiness(d: DrainStats, name: str, url: str | None) -> Check:
    detail = {
        "name": name,
        "healthy": d.healthy,
        "delivered_total": d.delivered_total,
        "delivered_per_s": round(d.rate(time.monotonic()), 1),
        "rejected_total": d.rejected_total,
        "errors": dict(d.errors_by_type),
        "last_error": d.last_error,
    }
    # Before the first write the sink has not been tried: that is not an outage.
    if not d.healthy and d.last_error is not None:
        return detail, f"store {url} not reachable: {d.last_error}"
    return detail, None


def district_readiness(d: DrainStats, url: str | None, o: OutboxStats, vouch: Vouch | None = None) -> dict[str, Any]:
    """The district forwarder: reachable or not, what it has still to send or has lost, what it
    refused to send, and whether this site's clock agrees with the district store's."""
    detail, problem = sink_readiness(d, "district", url)
    state = "forwarding" if d.healthy else "unreachable" if problem else "starting"
    more: dict[str, Any] = {}
    if vouch is not None:
        more = vouch.detail()
        if vouch.clock_off and vouch.clock_offset_s is not None:
            state = "clock_off"
            more["code"], more["message"] = CLOCK_OFF_CODE, CLOCK_OFF_MESSAGE.format(off=-vouch.clock_offset_s)
    return (
        detail
        | {
            "state": state,
            "pending_records": o.pending_by_sink.get("district", 0),
            "dropped_records": o.dropped_by_sink.get("district", 0),
            "problem": problem,
        }
        | more
    )


CLOCK_OFF_CODE = "site_clock_off"
CLOCK_OFF_MESSAGE = "本站时钟与区级数据库相差 {off:+.0f} 秒：请校准本站时间（NTP），否则汇聚到区级的数据时间不准"


def state_readiness(w: Writes) -> tuple[dict[str, Any], str | None]:
    """The state database in /readyz: its detail, and the problem while it cannot be written."""
    detail: dict[str, Any] = {"writable": not w.down, "failed_writes_total": w.failures_total}
    if w.down_since_ns is None:
        return detail, None
    detail |= {
        "code": UNWRITABLE_CODE,
        "message": UNWRITABLE_MESSAGE,
        "since_ns": w.down_since_ns,
        "failures": w.failures,
        "last_error": w.last_error,
    }
    return detail, (
        f"{w.what} cannot be written since {ago(w.down_since_ns)} ({w.failures} failed writes: {w.last_error}); "
        "free space on its disk or check the storage: writes are retried every half second"
    )
