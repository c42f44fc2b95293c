"""Who may open a phone slot, and when: in working hours only a duty manager, with a reason; outside
them staff too (product.md: phones stay locked away while staff serve)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.commands.audit import Caller
from gateway.domain.calendar import Schedule

REASON_CASE = "unlock_reason"  # the refusal that a reason undoes


class Denied(Exception):
    """A role that may not do this now; the message says who may. `case` and `params`: the
    catalogue's words for it (words.py `forbidden/<case>`) and their specifics."""

    def __init__(self, detail: str, case: str, **params: str) -> None:
        super().__init__(detail)
        self.case, self.params = case, params


def authorise_slot_unlock(caller: Caller, reason: str, schedule: Schedule, zone: str, now_ns: int) -> None:
    """Refuses (Denied, saying who may) a caller this rule does not let open a slot now."""
    local = datetime.fromtimestamp(now_ns / 1e9, ZoneInfo(zone))
    if schedule.working(local):
        if caller.role != "duty_manager":
            free = f"{schedule.end:%H:%M} 后"  # when staff may open their own slot
            raise Denied(
                f"in working hours only a duty_manager may unlock a slot (role {caller.role})",
                "unlock_in_hours",
                role=caller.role,
                free=free,
            )
        if not reason.strip():
            raise Denied("in working hours an unlock needs a reason", REASON_CASE)
    elif caller.role not in ("staff", "duty_manager"):
        raise Denied(
            f"role {caller.role} may not unlock a slot; staff (outside working hours) or duty_manager may",
            "unlock_role",
            role=caller.role,
        )


@dataclass(frozen=True)
class UnlockRule:
    """What the rule above says to a caller now, before any click (the staff page's grid): whether
    they may open a slot, whether a reason is needed, and, when not, the refusal they would get."""

    may: bool
    reason_required: bool
    denied: Denied | None = None


def unlock_rule(caller: Caller, schedule: Schedule, zone: str, now_ns: int) -> UnlockRule:
    """The rule as it stands for this caller now, asked of authorise_slot_unlock itself (no copy of
    it): first with no reason, and if only the reason is missing, they may, with one."""
    try:
        authorise_slot_unlock(caller, "", schedule, zone, now_ns)
    except Denied as e:
        if e.case == REASON_CASE:
            return UnlockRule(True, True)
        return UnlockRule(False, False, e)
    return UnlockRule(True, False)
