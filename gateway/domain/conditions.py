"""What a rule reports and how bad it is: the words the domain, the kinds and the alert lifecycle
share (gateway/alerts/lifecycle.py opens, acknowledges and resolves alerts from them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    key: str
    severity: Severity
    summary: str
    device: str | None = None
    manual: bool = False  # only a person can close it (no condition clears it)
    # The specifics of its catalogue template (Kind.summaries, zh_CN.SUMMARIES): with them the alert
    # desk words `summary` (English, for the logs and tests) in Chinese; without, it stays as it is.
    params: Mapping[str, Any] = field(default_factory=dict)
    # Once worded: the English it was said in, and the template its Chinese came from (its specifics
    # in `params`), kept with the alert so that it is said again, in the reader's language, when read.
    english: str | None = None
    template: str | None = None
