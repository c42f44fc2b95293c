"""`discipline:` in the hall file: the limits of the violations the devices show (离岗超时,
违规使用手机, 工作准备不到位), the breaks they do not count, and the three strikes."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model, clock_time


class Break(Model):
    """A break in the day (lunch): nobody is away, and a phone out is not a violation, in it."""

    start: time
    end: time
    _clock = field_validator("start", "end", mode="before")(clock_time)

    @model_validator(mode="after")
    def _ordered(self) -> Break:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}: a break lies within one day")
        return self


class Strikes(Model):
    """This many confirmed violations of one person in one period: an escalation, once."""

    count: int = Field(3, ge=1)
    period: Literal["year", "quarter", "month"] = "year"  # the calendar year, quarter or month


class Discipline(Model):
    enabled: bool = True
    away_min: float = Field(15, gt=0, description="a post left empty this long in open time: 离岗超时")
    phone_grace_min: float = Field(5, gt=0, description="a phone out of its slot this long in open time: 违规使用手机")
    unlock_covers_min: float = Field(30, gt=0, description="an approved unlock of a slot excuses its phone this long")
    ready_grace_min: float = Field(5, ge=0, description="nobody on a post this long after opening: 工作准备不到位")
    breaks: list[Break] = Field(default_factory=lambda: [Break(start=time(12, 0), end=time(13, 30))])
    strikes: Strikes = Strikes()
    check_s: float = Field(10, ge=1, le=300, description="how often the devices' state is checked (on the 1 s tick)")
