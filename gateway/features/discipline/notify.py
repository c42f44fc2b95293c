"""Each department told of its people's violations, through its work group's robot: a confirmed
violation, and the three strikes with their list (gateway/domain/discipline_notice.py words them).

A notice is queued in the durable delivery queue (the `deliveries` table, target "robot:<科室>")
in the same transaction as the step that caused it (Violations.step, .escalate): a confirmation
the gateway records is notified, once, even across a SIGKILL; one it did not record is not. Each
department's robot has its own queue and sender, so a dead robot holds back only its department.
A robot whose oldest message failed `notify.alert_after` times raises an alert until it goes.
The one repeat left: a robot took the message and the gateway died before deleting the row (the
robots take no idempotency key); the message's 台账编号 lets the group see it is the same one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.base import secret
from gateway.config.hall import HallConfig
from gateway.domain import discipline_notice as words
from gateway.domain.conditions import Condition
from gateway.features.discipline.robots import sender
from gateway.i18n.catalogue import label
from gateway.kinds.wiring import Webhook
from gateway.staff_registry import Roster
from gateway.store.repos.deliveries import Deliveries

PREFIX = "robot:"


class Notices:
    def __init__(self, cfg: HallConfig, deliveries: Deliveries, roster: Roster | None = None) -> None:
        self.d = cfg.discipline
        self.zone = ZoneInfo(cfg.timezone)
        self.deliveries = deliveries
        self.roster = roster or Roster(cfg)  # the names as the registry has them now
        self.wakes = {dept: asyncio.Event() for dept in self.d.departments}

    def _row(self, v: Mapping[str, Any]) -> dict[str, Any]:
        at = datetime.fromtimestamp(v["at_ns"] / 1e9, self.zone).strftime("%Y-%m-%d %H:%M")
        return {
            **v,
            "name": self.roster.names().get(v["staff"]),
            "kind_label": label("violation_kind", v["kind"]),
            "at": at,
        }

    def confirmed(self, v: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The (target, JSON) to queue with a confirmation: none for a department without a robot."""
        if v["department"] not in self.d.departments:
            return []
        body = words.confirmed(self._row(v), self.d.notify.feedback_days)
        return [(PREFIX + v["department"], json.dumps(body, ensure_ascii=False))]

    def escalated(
        self, staff: str, period: str, limit: int, rows: Sequence[Mapping[str, Any]]
    ) -> list[tuple[str, str]]:
        dept = rows[-1]["department"] if rows else ""
        if dept not in self.d.departments:
            return []
        body = words.escalated(
            staff,
            self.roster.names().get(staff),
            dept,
            period,
            limit,
            [self._row(r) for r in rows],
            self.d.notify.feedback_days,
        )
        return [(PREFIX + dept, json.dumps(body, ensure_ascii=False))]

    def queued(self, rows: Sequence[tuple[str, str]]) -> None:
        """After the transaction: their senders need not wait their idle time."""
        for target, _ in rows:
            self.wakes[target.removeprefix(PREFIX)].set()

    def webhooks(self) -> list[Webhook]:
        out = []
        for dept, robot in self.d.departments.items():
            side = robot.dingtalk or robot.wecom
            make = sender(robot, secret(robot.secret_env) or "", self.d.notify.per_minute)
            out.append(Webhook(PREFIX + dept, side, self.wakes[dept], send=make))
        return out

    def conditions(self, now_ns: int) -> list[Condition]:
        """An alert for each robot whose oldest message has failed `alert_after` times."""
        out = []
        for target, attempts, error in self.deliveries.heads(PREFIX):
            if attempts >= self.d.notify.alert_after:
                dept = target.removeprefix(PREFIX)
                out.append(
                    Condition(
                        "robot_failing",
                        f"robot {dept}",
                        "warning",
                        f"the robot of {dept} failed {attempts} times: {error}; its notices wait in the queue",
                        params={"department": dept, "attempts": attempts, "error": error},
                    )
                )
        return out
