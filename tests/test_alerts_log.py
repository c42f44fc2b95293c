"""The alert log says what changed (open, acknowledged, resolved, closed), not each occurrence:
one incident that grows 600 times is one "open" line, not 600 (issue 19: 605 lines)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.alerts.engine import AlertDesk
from gateway.config.alerts import Alerts
from gateway.domain.conditions import Condition
from gateway.health import HealthBook
from gateway.store.journal import Journal

S = 10**9


def _desk(journal: Journal) -> AlertDesk:
    return AlertDesk(HealthBook({}), {}, journal, Alerts(), "Asia/Shanghai", ("mqtt",), started_ns=0)


def _lines(caplog: pytest.LogCaptureFixture, state: str) -> list[str]:
    mine = [r.getMessage() for r in caplog.records if r.name == "gateway.alerts.engine"]
    return [m for m in mine if f" {state}: " in m]


def test_an_alert_whose_count_grows_600_times_logs_one_open_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "state.sqlite")
    desk = _desk(journal)
    c = Condition("forced_open", "lb-1/slot 3", "critical", "lb-1: forced open (slot 3)", "lb-1", manual=True)
    caplog.set_level(logging.INFO, logger="gateway.alerts.engine")
    for n in range(600):
        desk.raise_condition(c, n * S)
    (alert,) = desk.active()
    assert alert.occurrences == 600
    assert len(_lines(caplog, "open")) == 1
    desk.ack(alert.id, "zhao.duty", "on my way", 601 * S)
    desk.raise_condition(c, 602 * S)  # one more after the acknowledgement: no line either
    desk.close(alert.id, "zhao.duty", "door fixed", 603 * S)
    assert [len(_lines(caplog, s)) for s in ("open", "acknowledged", "closed")] == [1, 1, 1]
    assert len([r for r in caplog.records if r.name == "gateway.alerts.engine"]) == 3
    # The next incident of the same rule and key is news again: a new alert, one line.
    desk.raise_condition(c, 700 * S)
    assert len(_lines(caplog, "open")) == 2
    journal.close()


def test_a_condition_whose_summary_changes_each_tick_logs_its_transitions_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sibling: `sink_down` says how long InfluxDB has been down, a new summary every tick."""
    journal = Journal(tmp_path / "state.sqlite")
    desk = _desk(journal)
    caplog.set_level(logging.INFO, logger="gateway.alerts.engine")
    for t in range(300):
        desk.evaluate(t * S, [Condition("sink_down", "sink", "warning", f"InfluxDB not reachable for {60 + t} s")])
    assert desk.active()[0].summary == "InfluxDB not reachable for 359 s"
    for t in range(300, 340):
        desk.evaluate(t * S, [])  # clear for 30 s (the default clear period): resolved
    assert [len(_lines(caplog, s)) for s in ("open", "resolved")] == [1, 1]
    assert len([r for r in caplog.records if r.name == "gateway.alerts.engine"]) == 2
    journal.close()


def test_a_restarted_gateway_does_not_log_a_restored_alert_as_open_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "state.sqlite")
    c = Condition("forced_open", "lb-1/slot 3", "critical", "lb-1: forced open (slot 3)", "lb-1", manual=True)
    _desk(journal).raise_condition(c, 0)
    caplog.set_level(logging.INFO, logger="gateway.alerts.engine")
    caplog.clear()
    again = _desk(journal)  # what a restart restores from the state database
    again.raise_condition(c, S)
    assert again.active()[0].occurrences == 2
    assert _lines(caplog, "open") == []
    journal.close()
