"""`attendance:` in the hall file: when a post is 空岗, lunch, and which punches are a clock reset.
The window posts (AB岗) themselves are the hall's (`posts:`)."""

from __future__ import annotations

from datetime import time
from typing import Protocol

from pydantic import Field

from gateway.config.base import Model
from gateway.kinds.base import KindContext, Settings

KEY = "attendance"


class Lunch(Model):
    start: time = time(12, 0)
    end: time = time(13, 30)


class Attendance(Model):
    absence_limit_min: float = Field(30, gt=0, description="a post empty this long in working time is 空岗")
    lunch: Lunch | None = Lunch()
    touch_s: float = Field(2.0, ge=0, description="punches of one person this close are one touch")
    late_grace_min: float = Field(0, ge=0, description="a first in this long after start is not yet late")
    past_days: float = Field(31, gt=0, description="a punch dated earlier than this before now: a clock reset")
    future_s: float = Field(86400, gt=0, description="a punch dated later than this after now: a clock reset")


class AttendanceContext(KindContext, Protocol):
    """The hall as the attendance projection reads it (its posts are the hall's)."""

    attendance: Attendance


SETTINGS = Settings(KEY, Attendance)
