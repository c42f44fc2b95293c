"""The demo's discipline scenario (issue 23): a clerk who left their post 20 minutes ago and another
whose phone has been out of its cabinet slot (手机柜) for 10 minutes without an unlock, played once through
the simulators' own faults (`hallgate sim fault leave-post ...`, `phone-out ...`, which a tester may
also send by hand) so the discipline ledger finds both on its next check.

The demo's clock is the real one, so "20 minutes ago" is what the devices report: the clock-in
machines upload the punches with the times they were made, the cabinet its phone's events. The
found violations stay `detected` (a person confirms, as in a hall): they are on the manager's
ledger at once, and on the wall's 大厅公示 once someone confirms them there. Outside the hall's
working hours nothing is a violation, so the scenario waits for the next start in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.hall import HallConfig
from gateway.config.staff import registry
from gateway.domain.calendar import WorkCalendar

LEAVER, OWNER = "S0003", "S0006"  # 张伟 of W02 (刘洋 his B post), 杨帆 of W03 (phone in lb-1f slot 6)
AWAY_MIN, PHONE_MIN = 20, 10


@dataclass(frozen=True)
class Scenario:
    faults: tuple[dict[str, Any], ...]  # as the control channel takes them
    commands: tuple[str, ...]  # the same as a tester types them


def scenario(cfg: HallConfig) -> Scenario:
    """The faults, from the hall's posts and staff registry. The punches go to every clock-in
    machine of the simulators (no `device`: those that take the fault); they are one touch each."""
    post = next(p for p in cfg.posts if LEAVER in (p.a, p.b))
    cover = post.b if post.a == LEAVER else post.a
    owner = next(s for s in registry(cfg) if s.id == OWNER)
    assert owner.device and owner.slot, f"{OWNER} has no phone slot in the phones: of the hall file"
    faults = (
        {"fault": "leave_post", "staff": LEAVER, "cover": cover, "minutes": AWAY_MIN},
        {"fault": "on_duty", "staff": OWNER, "minutes": PHONE_MIN + 20},
        {"fault": "phone_out", "device": owner.device, "slot": owner.slot, "minutes": PHONE_MIN},
    )
    commands = tuple(
        "hallgate sim fault "
        + f["fault"].replace("_", "-")
        + "".join(f" --{k} {v}" for k, v in f.items() if k != "fault")
        for f in faults
    )
    return Scenario(faults, commands)


def working_now(cfg: HallConfig, now: datetime | None = None) -> bool:
    """Whether the hall is in its working hours now (its time zone, days, holidays)."""
    w = cfg.working_hours
    at = now or datetime.now(ZoneInfo(cfg.timezone))
    return WorkCalendar.of(w.days, w.holidays, w.workdays).is_working(at.date()) and w.start <= at.time() < w.end
