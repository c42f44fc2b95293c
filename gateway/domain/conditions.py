"""What a rule reports and how bad it is: the words the domain, the kinds and the alert lifecycle
share (gateway/alerts/lifecycle.py opens, acknowledges and resolves alerts from them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    key: str
    severity: Severity
    summary: str
    device: str | None = None
    manual: bool = False  # only a person can close it (no condition clears it)
