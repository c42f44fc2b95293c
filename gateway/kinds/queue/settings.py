"""`queue:` in the hall file: when the queue system raises an alert. The lines themselves are the
queue server's (its snapshot and its tickets name them), so a line named here need not exist yet."""

from __future__ import annotations

from datetime import time
from types import SimpleNamespace
from typing import Any, Protocol

from pydantic import Field, field_validator

from gateway.config.base import Model
from gateway.kinds.base import KindContext, Settings

KEY = "queue"
DAY_MIN = 24 * 60


class LineAlerts(Model):
    long_wait_min: float = Field(gt=0, le=DAY_MIN, description="this line's threshold of the longest wait")


class QueueSettings(Model):
    long_wait_min: float = Field(
        30.0, gt=0, le=DAY_MIN, description="a ticket of a line waiting this long (minutes): a long-wait alert"
    )
    idle_window_min: float = Field(
        10.0,
        gt=0,
        le=DAY_MIN,
        description="an open window that has called nobody this long while people wait: an alert",
    )
    lines: dict[str, LineAlerts] = Field({}, description="per line (its id, e.g. A): its own threshold")

    @field_validator("lines", mode="before")
    @classmethod
    def _numbered_lines(cls, v: Any) -> Any:
        # YAML reads `lines: {1: ...}` with the number 1 as the key; a line numbered 1 is meant.
        if isinstance(v, dict):
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: x for k, x in v.items()}
        return v

    @field_validator("lines")
    @classmethod
    def _line_ids(cls, v: dict[str, LineAlerts]) -> dict[str, LineAlerts]:
        blank = [repr(k) for k in v if not k.strip() or k != k.strip()]
        if blank:
            raise ValueError(f"队列编号 {'、'.join(blank)} 为空或前后有空格：请按排队系统的叫法写，如 A")
        return v

    def long_wait_s(self, line: str) -> float:
        """The threshold of a line's longest wait: its own, else the hall's."""
        own = self.lines.get(line)
        return 60 * (own.long_wait_min if own is not None else self.long_wait_min)


class QueueContext(KindContext, Protocol):
    """The hall as the queue projection reads it."""

    queue: QueueSettings


def standalone(site: str = "bench", timezone: str = "Asia/Shanghai") -> Any:
    """A QueueContext without a hall file, for what runs the projection on its own (the bench, the
    projection's unit tests): weekdays 09:00-17:00, the default settings."""
    hours = SimpleNamespace(
        days=["mon", "tue", "wed", "thu", "fri"], start=time(9), end=time(17), holidays=[], workdays=[]
    )
    return SimpleNamespace(site=site, timezone=timezone, working_hours=hours, queue=QueueSettings())


SETTINGS = Settings(KEY, QueueSettings)
