"""Who may command what, and the audit record every command leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.domain.canonical import Priority
from gateway.store.points import make_line


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: the token's role, the name the audit gives them, and a kiosk's locker; signed in
    with an account (gateway/signin/): the account's name as `actor`, the person's as `person`."""

    role: str
    actor: str
    locker: str | None = None
    person: str | None = None
    staff: str | None = None  # the staff id (registry) the caller is, when a staff token or account names one


def audit_row(
    *,
    at_ns: int,
    device: str,
    part: str | None,
    action: str,
    caller: Caller,
    reason: str,
    outcome: str,
    error: str | None = None,
    latency_ms: float | None = None,
    command_id: str | None = None,
) -> dict[str, Any]:
    return {
        "at_ns": at_ns,
        "device": device,
        "part": part,
        "action": action,
        "actor": caller.actor,
        "role": caller.role,
        "reason": reason,
        "outcome": outcome,
        "error": error,
        "latency_ms": None if latency_ms is None else round(latency_ms, 2),
        "command_id": command_id,
    }


def iso_time(ts_ns: int, zone: str) -> str:
    """A time for people, in the hall's zone (as the rest of the API gives times)."""
    return datetime.fromtimestamp(ts_ns / 1e9, ZoneInfo(zone)).isoformat(timespec="milliseconds")


def audit_line(site: str, row: dict[str, Any]) -> tuple[Priority, str]:
    """The audit record for InfluxDB: tags what is filtered on, the people and words as fields."""
    tags = {"site": site, "device": row["device"], "action": row["action"], "outcome": row["outcome"]}
    fields = {
        k: row[k]
        for k in ("actor", "role", "reason", "part", "error", "latency_ms", "command_id", "id", "amends")
        if row.get(k) not in (None, "")
    }
    return Priority.AUDIT, make_line("audit", tags, fields, row["at_ns"])
