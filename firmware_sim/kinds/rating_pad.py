"""Rating pad (评价器), wire kind `rating`: one per window, battery powered.

Events (channel `event`): `rated` with case_id, window, staff_id, ticket, item, score 1-5 and reasons
(only for scores 1-2), or `unrated` when the citizen did not rate within the prompt. A case is rated
once: a second rating of the same case_id is refused by the pad.

A queue system in the same hall (firmware_sim/kinds/queue.py) drives the pad of each window with
`prompt()` after every finished visit (then the pad makes up no activity of its own: `driven_by`).

Commands: `prompt` (the window system asks the pad to prompt the citizen; fields case_id, staff_id,
ticket, item; optional `score` to script the citizen's answer, `-1`/absent = random, `0` = no answer)
and `ping`.
"""

from __future__ import annotations

import itertools
from typing import Any

from firmware_sim.common import CaseNumbers
from firmware_sim.kinds.base import HallShare, SimKind
from firmware_sim.mqtt_device import CmdError, MqttDevice
from firmware_sim.spec import DeviceSpec

REASONS = ("attitude", "slow", "unclear", "rejected", "other")
ITEMS = ("营业执照设立登记", "社保卡补办", "不动产登记", "公积金提取", "居住证办理", "个体工商户变更登记")
# 5 非常满意 ... 1 非常不满意: mostly good, a few bad ones (差评)
SCORE_WEIGHTS = {5: 70, 4: 18, 3: 6, 2: 4, 1: 2}


class RatingPad(MqttDevice):
    kind = "rating_pad"
    wirekind = "rating"
    model = "RP-500"
    fw = "2.3.1"
    battery_powered = True

    def __init__(
        self,
        device_id: str,
        *,
        window: str = "W01",
        staff_id: str | None = None,
        case_numbers: CaseNumbers | None = None,
        unrated_ratio: float = 0.1,
        missing_case_ratio: float = 0.0,
        battery: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(device_id, **kwargs)
        self.window = window
        digits = "".join(c for c in window if c.isdigit()) or "0"
        self.staff_id = staff_id or f"S{int(digits):04d}"
        self.case_numbers = case_numbers or CaseNumbers()
        self.unrated_ratio = unrated_ratio
        self.missing_case_ratio = missing_case_ratio
        self.battery = battery
        self._tickets = itertools.count(1)
        self.rated_cases: set[str] = set()
        self.driven_by: str | None = None  # the queue system that prompts this pad after each visit

    def rate(
        self,
        score: int | None = None,
        *,
        case_id: str | None = None,
        staff_id: str | None = None,
        ticket: str | None = None,
        item: str | None = None,
        reasons: list[str] | None = None,
        ts: str | None = None,
    ) -> dict[str, Any] | None:
        """The citizen rates a service. Returns the `rated` event, or None when the pad refuses
        a second rating of the same case. Missing fields are made up (seeded). `ts`: the event's
        time when it is not the pad's clock now (a day played at full speed)."""
        if case_id is None:
            missing = self.rng.random() < self.missing_case_ratio
            case_id = "" if missing else self.case_numbers.next()
        if case_id and case_id in self.rated_cases:
            return None
        if score is None:
            score = self.rng.choices(list(SCORE_WEIGHTS), weights=list(SCORE_WEIGHTS.values()))[0]
        if not 1 <= score <= 5:
            raise ValueError(f"score must be 1-5, not {score}")
        if score > 2:
            reasons = []
        elif reasons is None:
            reasons = sorted(self.rng.sample(REASONS, self.rng.randint(1, 2)))
        if case_id:
            self.rated_cases.add(case_id)
        return self.emit(
            {
                "type": "rated",
                "case_id": case_id,
                "window": self.window,
                "staff_id": staff_id or self.staff_id,
                "ticket": ticket or f"A{next(self._tickets):03d}",
                "item": item or self.rng.choice(ITEMS),
                "score": score,
                "reasons": reasons,
            }
            | ({"ts": ts} if ts else {})
        )

    def expire_prompt(
        self,
        *,
        staff_id: str | None = None,
        ticket: str | None = None,
        item: str | None = None,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """The prompt expired without a rating: an `unrated` event."""
        return self.emit(
            {
                "type": "unrated",
                "window": self.window,
                "staff_id": staff_id or self.staff_id,
                "ticket": ticket or f"A{next(self._tickets):03d}",
                "item": item or self.rng.choice(ITEMS),
            }
            | ({"ts": ts} if ts else {})
        )

    def prompt(
        self,
        *,
        case_id: str = "",
        staff_id: str | None = None,
        ticket: str | None = None,
        item: str | None = None,
        score: int | None = None,
        ts: str | None = None,
    ) -> dict[str, Any] | None:
        """The window terminal prompts the pad after a service. `score`: 1-5 scripts the citizen's
        answer, -1 a random score, 0 no answer (`unrated`), None as citizens do (`unrated_ratio`
        of the prompts expire). Raises CmdError("already_rated") for a case already rated."""
        if case_id and case_id in self.rated_cases:
            raise CmdError("already_rated")
        if score is None:
            score = 0 if self.rng.random() < self.unrated_ratio else -1
        if score == 0:
            return self.expire_prompt(staff_id=staff_id, ticket=ticket, item=item, ts=ts)
        return self.rate(
            None if score == -1 else score, case_id=case_id, staff_id=staff_id, ticket=ticket, item=item, ts=ts
        )

    def burst_event(self) -> None:
        self.spontaneous()

    def spontaneous(self) -> None:
        if self.driven_by is not None:
            return  # the visits of the queue system drive it
        if self.rng.random() < self.unrated_ratio:
            self.expire_prompt()
        else:
            self.rate()
        if self.rng.random() < 0.02 and self.battery is not None and self.battery > 5:
            self.battery -= 1

    async def execute(self, op: str, cmd: dict[str, Any]) -> dict[str, Any]:
        if op != "prompt":
            return await super().execute(op, cmd)
        fields = {k: cmd.get(k) for k in ("staff_id", "ticket", "item")}
        for value in fields.values():
            if value is not None and not isinstance(value, str):
                raise CmdError("bad_request")
        case_id = cmd.get("case_id")
        if case_id is not None and not isinstance(case_id, str):
            raise CmdError("bad_request")
        score = cmd.get("score", -1)
        if not isinstance(score, int) or not -1 <= score <= 5:
            raise CmdError("bad_request")
        self.prompt(case_id=case_id or "", score=score, **fields)
        return {"rated": score != 0}


def _options(spec: DeviceSpec, hall: HallShare) -> dict[str, Any]:
    return {"case_numbers": hall.case_numbers} | ({"window": spec.window} if spec.window else {})


KIND = SimKind(RatingPad.kind, "mqtt", RatingPad, options=_options)
