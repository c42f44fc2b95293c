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

# What a site's bridged messages may make the district keep: its gateway's summary carries its
# newest 100 open alerts (gateway/alerts/engine.py), each text a short code or name. A hostile or
# broken site sending more, or longer, is cut to these, so the view stays bounded for every site.
MAX_ALERTS = 100
MAX_TEXT = 200
ACTIVE = ("open", "acknowledged")  # gateway/alerts/lifecycle.py ACTIVE


@dataclass
class Heard:
    """What the district broker carried for one site (gateway/district/watcher.py)."""

    gateway: str | None = None  # "online" / "offline": hall/{site}/gateway/status
    gateway_at_s: float | None = None  # when the district heard it
    bridge: bool | None = None  # hall/{site}/bridge/state
    alerts: dict[int, dict[str, Any]] = field(default_factory=dict)  # open alerts by id (at most MAX_ALERTS)
    more: int = 0  # open alerts beyond those kept (the summary's `active` said so)
    # "workorders" / "violations" -> the site's retained counts (hall/{site}/gateway/<feed>)
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def open_alerts(self) -> int:
        return len(self.alerts) + self.more

    def summary(self, body: dict[str, Any]) -> None:
        """The retained summary: every open alert it lists (the newest MAX_ALERTS), and its count."""
        listed = [a for a in map(clean_alert, _list(body.get("alerts"))) if a is not None and a["state"] in ACTIVE]
        listed.sort(key=lambda a: a["id"], reverse=True)
        self.alerts = {a["id"]: a for a in listed[:MAX_ALERTS]}
        active = body.get("active")
        said = active if isinstance(active, int) and not isinstance(active, bool) else 0
        self.more = max(0, min(said, 10**9) - len(self.alerts))

    def change(self, body: dict[str, Any]) -> None:
        """One alert's change between two summaries: kept while open, dropped once it is not."""
        a = clean_alert(body.get("alert"))
        if a is None:
            raise ValueError("a change without a readable alert")
        if a["state"] not in ACTIVE:
            self.alerts.pop(a["id"], None)
            return
        self.alerts[a["id"]] = a
        if len(self.alerts) > MAX_ALERTS:
            del self.alerts[min(self.alerts)]  # the oldest is counted, no longer listed
            self.more += 1

    def feed_summary(self, feed: str, keys: tuple[str, ...], body: dict[str, Any]) -> None:
        """A feed's retained summary: its counts (whole numbers), the month they are of, when made."""
        counts: dict[str, Any] = {}
        for k in keys:
            v = body.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 10**9:
                raise ValueError(f"{feed}.{k} is not a count")
            counts[k] = v
        self.counts[feed] = counts | {k: _text(body[k]) for k in ("month", "at") if body.get(k) is not None}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _text(v: Any) -> str | None:
    return None if v is None else str(v)[:MAX_TEXT]


def clean_alert(a: Any) -> dict[str, Any] | None:
    """An alert as a site sent it, reduced to the fields the district shows, each of its type and
    length; None when it has no integer id. Never trusted further: the pages escape every text."""
    if not isinstance(a, dict):
        return None
    try:
        alert_id = int(a.get("id"))  # type: ignore[arg-type]
        opened = a.get("opened_ns")
        opened_ns = None if opened is None else int(opened)
    except (TypeError, ValueError, OverflowError):
        return None
    if opened_ns is not None and not 0 <= opened_ns < 2**63:
        opened_ns = None
    out: dict[str, Any] = {k: _text(a.get(k)) for k in ("rule", "severity", "summary", "device", "state")}
    return {"id": alert_id, **out, "opened_ns": opened_ns}


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
