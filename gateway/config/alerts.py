"""Device health thresholds, the alert lifecycle and its webhook, and the command desk's limits."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, field_validator

from gateway.config.base import Model, Webhook, clock_time

Severity = Literal["info", "warning", "critical"]


class QuietHours(Model):
    """Webhook deliveries of alerts below `min_severity` are held back between start and end."""

    start: time
    end: time
    min_severity: Severity = "critical"
    _clock = field_validator("start", "end", mode="before")(clock_time)  # an unquoted 22:00 is a number


class Health(Model):
    clock_drift_limit_s: float = Field(
        120, gt=0, description="a device whose clock is off by more than this is degraded (its drift shown)"
    )


class Alerts(Model):
    severity: dict[str, Severity] = Field({}, description="rule -> severity, overriding the defaults")
    clear_after_s: float = Field(30.0, ge=0, description="a condition clear this long resolves its alert")
    quiet_hours: QuietHours | None = None
    webhook: Webhook | None = None


class Commands(Model):
    """The one way down (gateway/commands/): timeouts and how long records are kept."""

    timeout_s: float | None = Field(
        None, gt=0, le=60, description="wait this long for a device's confirmation; default: the profile's"
    )
    audit_keep_days: float = Field(365, gt=0, description="audit records older than this leave the state database")
    keys_keep_h: float = Field(24, gt=0, description="how long an Idempotency-Key's outcome is remembered")
