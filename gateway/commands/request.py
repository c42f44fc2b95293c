"""What a command is on its way through the desk: the request as asked, its outcome as
answered, and a refusal (which the API turns into its error)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.commands.audit import Caller

# outcome -> HTTP status of the answer
HTTP_STATUS = {
    "confirmed": 200,
    "failed": 409,  # the device refused or its lock did not open (jammed, bad_slot, busy)
    "refused": 409,  # not sent: another command on the part, a door not free, already open
    "timeout": 504,  # sent, not confirmed in time
    "offline": 504,  # not sent: the device is known to be offline or did not answer the first read
    "unavailable": 503,  # not sent: the broker is down, or the gateway stopped before sending
}
# what the audit calls an outcome: anything not sent is `refused`
AUDIT_OUTCOME = {"confirmed": "confirmed", "failed": "failed", "timeout": "timeout"}


class Refused(Exception):
    """A command not run (or a request not valid); becomes the API's error body (`params`: the
    specifics its Chinese message names, as ApiError's)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None, **params: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, dict(headers or {})
        self.params = params


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # 200 confirmed; 409, 503, 504 otherwise
    body: dict[str, Any]  # the audit record, or {"error", "detail", "audit"}
    repeat: bool = False  # the answer to an Idempotency-Key already used

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Request:
    """One command as asked: what to do to which device, by whom and why."""

    action: str  # what the audit calls it: unlock, deposit, pickup
    device: str
    op: str  # the profile's command op
    params: dict[str, Any]
    part: str  # slot 3, door 5
    caller: Caller
    reason: str

    def fingerprint(self) -> str:
        return json.dumps([self.action, self.device, self.op, self.params], sort_keys=True)

    def to_json(self) -> dict[str, Any]:
        c = self.caller
        return {
            "action": self.action,
            "op": self.op,
            "params": self.params,
            "part": self.part,
            "actor": c.actor,
            "role": c.role,
            "locker": c.locker,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, device: str, d: dict[str, Any]) -> Request:
        caller = Caller(d["role"], d["actor"], d.get("locker"))
        return cls(d["action"], device, d["op"], d["params"], d["part"], caller, d["reason"])


Check = Callable[[dict[str, Any]], "Refused | None"]  # a Modbus board's state before the pulse
