"""One log record, one line: text from outside (MQTT topics, device ids, payload excerpts, what a
person typed) is written with its control characters escaped.

A topic such as `hall/x/rating/evil\\n2026-11-26 02:30:00,000 CRITICAL ...` made the hub's
unknown-device warning print a second, forged line; a NUL made the journal a binary file for
grep. Escaping at the formatter covers every logger and every caller, including messages built
from values no route checked. Tracebacks keep their lines: only the message is escaped.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    c = ord(match.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def one_line(text: str) -> str:
    return _UNSAFE.sub(_escape, text)


class OneLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = one_line(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def setup(level: int, fmt: str) -> None:
    """logging.basicConfig with the one-line formatter on the handler it adds (none is added, and
    no handler changed, when the root logger has one already, as under pytest)."""
    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(level=level, format=fmt)
    for handler in root.handlers:
        if handler not in before:
            handler.setFormatter(OneLineFormatter(fmt))
