"""A site's state as the district sees it: online while its data keeps arriving and its gateway
has not said it is gone. Pure: the last data time, the bridged statuses and the clock in.

- `online`: data within `offline_after_s` and no `offline` status (the gateway's will) since;
- `offline`, reason `no_data` (never seen in the store), `silent` (nothing for `offline_after_s`)
  or `said_offline` (its gateway's retained status says offline, bridged up by its Mosquitto).
The bridge's own state (`1`/`0`) is shown beside it: a bridge down hides the site's alerts, not
its data, so it does not make the site offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Heard:
    """What the district broker carried for one site (gateway/district/watcher.py)."""

    gateway: str | None = None  # "online" / "offline": hall/{site}/gateway/status
    gateway_at_s: float | None = None  # when the district heard it
    bridge: bool | None = None  # hall/{site}/bridge/state
    alerts: dict[int, dict[str, Any]] = field(default_factory=dict)  # open alerts by id
    # "workorders" / "violations" -> the site's retained counts (hall/{site}/gateway/<feed>)
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteState:
    state: str  # online / offline
    reason: str | None  # offline: no_data / silent / said_offline
    last_data_s: float | None
    silent_s: float | None


def site_state(last_data_s: float | None, heard: Heard | None, now_s: float, offline_after_s: float) -> SiteState:
    if last_data_s is None:
        return SiteState("offline", "no_data", None, None)
    silent = max(0.0, now_s - last_data_s)
    if silent > offline_after_s:
        return SiteState("offline", "silent", last_data_s, silent)
    if heard is not None and heard.gateway == "offline":
        return SiteState("offline", "said_offline", last_data_s, silent)
    return SiteState("online", None, last_data_s, silent)
