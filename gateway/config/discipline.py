"""`discipline:` in the hall file: the limits of the violations the devices show (离岗超时,
违规使用手机, 工作准备不到位), the breaks they do not count, the three strikes, and each
department's work-group robot (钉钉 or 企业微信) that is told of its people's violations."""

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
            raise ValueError(f"结束 {self.end} 不晚于开始 {self.start}：休息时段须在同一天内")
        return self


class Strikes(Model):
    """This many confirmed violations of one person in one period: an escalation, once."""

    count: int = Field(3, ge=1)
    period: Literal["year", "quarter", "month"] = "year"  # the calendar year, quarter or month


class DingTalk(Model):
    """A 钉钉 custom robot with 加签: its webhook (with its access_token) and the secret's variable."""

    url: str = Field(pattern=r"^https?://", description="https://oapi.dingtalk.com/robot/send?access_token=...")
    secret_env: str = Field(description="the environment variable holding the robot's SEC... secret")
    timeout_s: float = Field(5.0, gt=0)


class WeCom(Model):
    """A 企业微信 group robot: its whole webhook URL (it carries the key) is the secret."""

    url_env: str = Field(description="the environment variable holding https://qyapi.weixin.qq.com/...?key=...")
    timeout_s: float = Field(5.0, gt=0)


class Robot(Model):
    """A department's work-group robot: exactly one of the two."""

    dingtalk: DingTalk | None = None
    wecom: WeCom | None = None

    @model_validator(mode="after")
    def _one(self) -> Robot:
        if (self.dingtalk is None) == (self.wecom is None):
            raise ValueError("每个科室只配一个机器人：dingtalk: {url, secret_env} 或 wecom: {url_env}")
        return self

    @property
    def secret_env(self) -> str:
        return self.dingtalk.secret_env if self.dingtalk else self.wecom.url_env  # type: ignore[union-attr]


class Notify(Model):
    """How departments are told: the time they get to answer, and when a robot that keeps failing
    raises an alert."""

    feedback_days: int = Field(3, ge=1, le=30, description="请于 N 个工作日内反馈整改情况")
    alert_after: int = Field(5, ge=1, le=1000, description="a robot failing this many times in a row: an alert")
    per_minute: int = Field(20, ge=1, le=20, description="messages a minute a robot takes (both allow 20)")


class Reminder(Model):
    """每日差评工作提醒: at `at` of each hall day, one message to the hall's work groups (the robots
    of the departments in `to`) of the day's 差评 per window, with their reasons and work orders."""

    at: time = Field(time(17, 30), description="when in the hall's day (HH:MM)")
    to: list[str] = Field(default_factory=list, description="departments (of `departments`) whose robot gets it")
    when_none: bool = Field(False, description="also on a day without 差评 (今日没有差评)")
    _clock = field_validator("at", mode="before")(clock_time)


def robot_secrets(departments: dict[str, Robot]) -> list[tuple[str, str]]:
    """(dotted path, variable) of every department robot's secret (gateway/config/secrets.py)."""
    out = []
    for dept, r in departments.items():
        side = "dingtalk" if r.dingtalk else "wecom"
        out.append((f"discipline.departments.{dept}.{side}.{'secret_env' if r.dingtalk else 'url_env'}", r.secret_env))
    return out


class Discipline(Model):
    enabled: bool = True
    away_min: float = Field(15, gt=0, description="a post left empty this long in open time: 离岗超时")
    phone_grace_min: float = Field(5, gt=0, description="a phone out of its slot this long in open time: 违规使用手机")
    unlock_covers_min: float = Field(30, gt=0, description="an approved unlock of a slot excuses its phone this long")
    ready_grace_min: float = Field(5, ge=0, description="nobody on a post this long after opening: 工作准备不到位")
    breaks: list[Break] = Field(default_factory=lambda: [Break(start=time(12, 0), end=time(13, 30))])
    strikes: Strikes = Strikes()
    check_s: float = Field(10, ge=1, le=300, description="how often the devices' state is checked (on the 1 s tick)")
    # 科室名 -> its robot: each confirmed violation and escalation goes to the person's department
    departments: dict[str, Robot] = Field(default_factory=dict)
    notify: Notify = Notify()
    reminder: Reminder = Reminder()
    # Kept this long after its last step, then deleted with its photo (features/discipline/retention.py)
    retention_days: int = Field(730, description="违规台账保留期（天）: at least the strikes' longest period")
    reads_retention_days: int = Field(730, description="台账阅读记录 (ledger_reads) 保留期（天）")

    @field_validator("retention_days", "reads_retention_days")
    @classmethod
    def _keep_a_year(cls, v: int) -> int:
        # Never shorter than a calendar year: a violation that still counts toward the strikes stays.
        if not 366 <= v <= 36600:
            raise ValueError(f"保留期须在 366 至 36600 天之间（三次违规按自然年计数），现为 {v} 天")
        return v

    @model_validator(mode="after")
    def _reminder_robots(self) -> Discipline:
        unknown = [d for d in self.reminder.to if d not in self.departments]
        if unknown:
            raise ValueError(
                f"reminder.to: {', '.join(unknown)} has no robot under departments (known: "
                f"{', '.join(self.departments) or 'none'})"
            )
        return self
