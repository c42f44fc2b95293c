"""Alerts only a person closes (a 差评 each) pile up when nobody closes them: the desk keeps a
bounded number in memory and the rest in the state database, where they stay open, counted,
listed, found, closable, and recalled when their incident comes again (not opened twice)."""

from __future__ import annotations

from pathlib import Path

from gateway.alerts.engine import LOGGED_SLACK, AlertDesk
from gateway.config.alerts import Alerts
from gateway.domain.conditions import Condition
from gateway.health import HealthBook
from gateway.store.journal import Journal

S = 10**9
LIMIT = 20
N = 300


def _desk(journal: Journal) -> AlertDesk:
    return AlertDesk(HealthBook({}), {}, journal, Alerts(), "Asia/Shanghai", ("mqtt",), started_ns=0)


def _bad(i: int) -> Condition:
    return Condition("bad_rating", f"case {i}", "critical", f"差评 at W01, case {i}", "rp-1", manual=True)


def test_alerts_a_person_closes_are_bounded_in_memory_and_all_kept_open(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state.sqlite")
    desk = _desk(journal)
    desk.book.manual_limit = LIMIT
    for i in range(N):  # as the ratings projection reports them: each once, at a tick
        desk.evaluate(i * S, [_bad(i)])
    assert len(desk.book.active) <= LIMIT
    # What the log last said of each alert is bounded by the book too, not one per 差评.
    assert len(desk._logged) <= 2 * LIMIT + LOGGED_SLACK < N
    assert desk.active_counts()["critical"] == N and desk.summary()["active"] == N
    assert len(desk.active()) == N  # the list still shows every open one
    oldest = min(desk.active(), key=lambda a: a.id)
    assert oldest.key == "case 0" and ("bad_rating", "case 0") not in desk.book.active

    # Its incident again: one more occurrence of the same alert, not a second one.
    desk.evaluate(N * S, [_bad(0)])
    again = desk.find(oldest.id)
    assert again is not None and again.active and desk.active_counts()["critical"] == N

    closed = desk.close(oldest.id, "值班长赵强", "回访完成", (N + 1) * S)
    assert closed is not None and closed.state == "closed"
    assert desk.active_counts()["critical"] == N - 1
    assert journal.alert_row(oldest.id)[6] == "closed"  # type: ignore[index]  # the state column

    # After a restart the counts come from the state database, not from what memory held.
    journal.close()
    journal = Journal(tmp_path / "state.sqlite")
    assert _desk(journal).active_counts()["critical"] == N - 1
    journal.close()
