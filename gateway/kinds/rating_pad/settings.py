"""`ratings:` in the hall file: the 差评 work order's deadline and the window alert's limit."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field, model_validator

from gateway.config.base import Model
from gateway.kinds.base import KindContext, Settings

KEY = "ratings"


class Ratings(Model):
    deadline_working_days: int = Field(15, ge=1, le=120, description="a 差评 work order's deadline")
    window_bad_limit: int = Field(3, ge=1, description="this many 差评 at one window in one day: a window alert")
    # How the pages colour a 好评率: at or above `good_rate_ok` green, below `good_rate_low` red,
    # between them amber (a hall's target is in the high nineties: 50 % is not green).
    good_rate_ok: float = Field(0.95, gt=0, le=1, description="好评率 at or above this: shown green")
    good_rate_low: float = Field(0.90, gt=0, le=1, description="好评率 below this: shown red")

    @model_validator(mode="after")
    def _ordered(self) -> Ratings:
        if self.good_rate_low > self.good_rate_ok:
            raise ValueError("好评率红线 good_rate_low 不能高于绿线 good_rate_ok")
        return self


class RatingsContext(KindContext, Protocol):
    """The hall as the rating pads' projection reads it."""

    ratings: Ratings


SETTINGS = Settings(KEY, Ratings)
