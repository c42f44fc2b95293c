"""A period named the way the reports name one, its kind read from its form: 2026-12-07 (day),
2026-W49 (week), 2026-12 (month), 2026-Q4 (quarter), 2026-12-01..2026-12-15 (range). Pure."""

from __future__ import annotations

import re

from gateway.domain import periods
from gateway.domain.periods import FORMS, PeriodError, Span

_FORMS = (
    ("day", re.compile(r"^\d{4}-\d{2}-\d{2}$")),
    ("week", re.compile(r"^\d{4}-W\d{2}$")),
    ("month", re.compile(r"^\d{4}-\d{2}$")),
    ("quarter", re.compile(r"^\d{4}-Q\d$")),
    ("range", re.compile(r"^.+\.\..+$")),
)


def parse_period(text: str) -> Span:
    """The span `text` names; PeriodError (in Chinese, naming the accepted forms) otherwise."""
    text = text.strip()
    for kind, form in _FORMS:
        if form.match(text):
            return periods.parse(kind, text)
    raise PeriodError("bad_period", f"期间 {text!r} 不是可用的格式：可用的格式为 {FORMS}")
