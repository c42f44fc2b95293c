"""What every part of the hall configuration shares (the kinds' sections included): the strict
model, sizes, clock times, a webhook, the environment's prefix, and how a secret the file names is
read."""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "HALLGATE_"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_time(v: Any) -> Any:
    # YAML 1.1 reads an unquoted 3:00 as the number 180 (base 60), which pydantic would take
    # as 00:03:00: refuse numbers rather than reset at the wrong time.
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError(f'{v!r} 是数字，不是时刻：请写带引号的 HH:MM，如 "03:00"')
    return v


def parse_size(value: Any) -> int:
    """`64MiB`, `500MB`, `1048576` -> bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} 不是容量：请写如 256MiB、500MB 或字节数")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


class Webhook(Model):
    """A URL the gateway POSTs to (the alerts' webhook, a kind's notifications)."""

    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None  # sent as `Authorization: Bearer <token>`
    timeout_s: float = Field(5.0, gt=0)


def secret(name: str | None) -> str | None:
    """The value of a secret the configuration names (checked present by load_config)."""
    return None if name is None else os.environ.get(name)
