"""An alert's summary is said when read, in the reader's language: the Chinese from the catalogue's
template and the specifics the alert kept, the English it was raised with; a row stored before the
alerts kept their words (schema step 3 of `alerts`) keeps the text it was stored with, in both."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from gateway.alerts.engine import _alert, worded
from gateway.alerts.lifecycle import Book
from gateway.alerts.words import summary
from gateway.api.lang import language
from gateway.domain.conditions import Condition
from gateway.store.repos.alerts import Alerts
from gateway.store.repository import migrate


def test_a_condition_with_specifics_is_kept_with_its_template_and_said_in_either_language() -> None:
    c = worded(
        Condition(
            "sink_down",
            "sink",
            "warning",
            "InfluxDB not reachable for 90 s: refused",
            params={"seconds": 90, "error": "refused"},
        )
    )
    a = Book()._new(c, 1)
    assert (a.template, a.english) == ("sink_down", "InfluxDB not reachable for 90 s: refused")
    assert summary(a, "en") == "InfluxDB not reachable for 90 s: refused"
    zh = summary(a, "zh")
    assert zh == a.summary and "90" in zh and zh != a.english, zh
    # Said when read: a row whose stored text is stale still reads as the template says today.
    assert summary(replace(a, summary="旧的文字"), "zh") == zh


def test_the_language_is_english_only_when_english_comes_first() -> None:
    assert [language(h) for h in (None, "", "zh-CN", "*", "zh-CN,en;q=0.9", "en", "en-US,zh;q=0.5", "EN-gb")] == [
        "zh", "zh", "zh", "zh", "zh", "en", "en", "en",
    ]  # fmt: skip


class OldAlerts(Alerts):
    """The alerts table as a gateway before the words were kept made it (its first two steps)."""

    migrations = Alerts.migrations[:2]


def test_a_row_from_before_the_words_keeps_its_text_in_both_languages(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "state.sqlite", isolation_level=None)
    migrate(conn, [OldAlerts], "old")
    conn.execute(
        "INSERT INTO alerts (id, rule, key, severity, summary, device, state, opened_ns, updated_ns, manual, "
        "occurrences) VALUES (7, 'device_offline', 'lb', 'critical', 'lb 离线：无应答', 'lb', 'open', 1, 1, 0, 1)"
    )
    migrate(conn, [Alerts], "new")
    old = _alert(Alerts(conn).alert_row(7))
    assert (old.template, old.english, old.params) == (None, None, None)
    assert summary(old, "zh") == summary(old, "en") == "lb 离线：无应答"
    # A new row beside it keeps its words through the database.
    c = worded(
        Condition("outbox_dropping", "outbox", "critical", "the outbox is full (3 dropped)", params={"dropped": 3})
    )
    Alerts.save_in(conn, [Book(next_id=8)._new(c, 2)])
    new = _alert(Alerts(conn).alert_row(8))
    assert (new.template, new.params, summary(new, "en")) == (
        "outbox_dropping",
        {"device": None, "dropped": 3},
        "the outbox is full (3 dropped)",
    )
    assert summary(new, "zh") == new.summary and "3" in new.summary and new.summary != new.english
