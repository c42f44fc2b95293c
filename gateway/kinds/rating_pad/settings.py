"""`ratings:` in the hall file: the 差评 work order's deadline and the window alert's limit."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from gateway.config.base import Model
from gateway.kinds.base import KindContext, Settings

KEY = "ratings"


class Ratings(Model):
    deadline_working_days: int = Field(15, ge=1, le=120, description="a 差评 work order's deadline")
    window_bad_limit: int = Field(3, ge=1, description="this many 差评 at one window in one day: a window alert")


class RatingsContext(KindContext, Protocol):
    """The hall as the rating pads' projection reads it."""

    ratings: Ratings


SETTINGS = Settings(KEY, Ratings)
