"""`reports.schedule` and `reports.delivery` in the hall file: when the operations reports are made
on their own (the week's on Monday, the month's on the 1st, the quarter's on its first day, in
hall time) and where they go (the hall's work group through a 钉钉 or 企业微信 robot, e-mail)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model, clock_time
from gateway.config.discipline import Robot

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Schedule(Model):
    """Each kind listed is made at its time of day (hall time) for the period that just ended."""

    enabled: bool = True
    # kind -> time of day it is made: drop a kind to stop its reports
    at: dict[Literal["week", "month", "quarter"], time] = Field(
        default_factory=lambda: {"week": time(8), "month": time(8), "quarter": time(8)}
    )
    week_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    retries: int = Field(3, ge=0, le=20, description="a report that fails to render is tried again this often")
    retry_after_min: float = Field(10, gt=0, le=1440, description="the first retry's wait; each next one doubles it")
    check_s: float = Field(30, ge=1, le=600, description="how often the schedule is looked at")

    @field_validator("at", mode="before")
    @classmethod
    def _times(cls, v: object) -> object:
        if isinstance(v, dict):
            for t in v.values():
                clock_time(t)
        return v


class Email(Model):
    """An SMTP server the reports are sent through, with the PDF and the XLSX attached."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    ca_file: Path | None = Field(None, description="the CA that signed the server's certificate (else the system's)")
    user: str | None = None
    password_env: str | None = Field(None, description="the environment variable holding the SMTP password")
    sender: str = Field(alias="from", min_length=3, description="报告发件人 <reports@hall.example>")
    to: list[str] = Field(min_length=1)
    timeout_s: float = Field(20.0, gt=0)

    @model_validator(mode="after")
    def _login(self) -> Email:
        if (self.user is None) != (self.password_env is None):
            raise ValueError("give both user and password_env to log in, or neither")
        return self


class Delivery(Model):
    """Where a scheduled report goes once made: each optional."""

    robot: Robot | None = None  # the hall's work group
    email: Email | None = None
    link: str | None = Field(
        None, pattern=r"^https?://", description="the gateway as the work group reaches it: the message links its page"
    )
