"""`reports:` in the hall file: the operations reports' 一月一评比 (its weights and how many
红旗窗口), their schedule and delivery (gateway/config/report_delivery.py)."""

from __future__ import annotations

from pydantic import Field, field_validator

from gateway.config.base import Model
from gateway.config.report_delivery import Delivery, Schedule
from gateway.domain.ranking import CRITERIA, DEFAULT_WEIGHTS


class Ranking(Model):
    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="criterion -> weight: good_rate, rating_rate, handling_mean, violations, overdue",
    )
    red_flags: int = Field(3, ge=0, le=50, description="the top windows marked 红旗窗口")

    @field_validator("weights")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(CRITERIA))
        if unknown:
            raise ValueError(f"未知指标 {'、'.join(unknown)}：可用 {'、'.join(CRITERIA)}")
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("权重不能为负，且至少一项大于 0")
        return v


class Reports(Model):
    ranking: Ranking = Ranking()
    schedule: Schedule = Schedule()
    delivery: Delivery = Delivery()
