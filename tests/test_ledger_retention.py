"""The ledger's retention (gateway/domain/ledger_retention.py, gateway/features/discipline/retention.py):
the pure cut-off and audit text, the setting's bounds, and a pass over a real state database that
deletes old violations with their steps, photo and notice, wipes them from the database file, keeps
the escalation they raised, and deletes in bounded batches once a day."""

from __future__ import annotations

import io
import sqlite3
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pydantic import ValidationError

from gateway.config.discipline import Discipline, Strikes
from gateway.config.hall import HallConfig
from gateway.domain import ledger_retention as r
from gateway.features.discipline import retention
from gateway.features.discipline.ledger import Ledger
from gateway.features.discipline.photos import clean
from gateway.features.discipline.retention import Retention
from gateway.features.discipline.rounds import Rounds
from gateway.staff_registry import Roster
from gateway.store.journal import Journal

ZONE = ZoneInfo("Asia/Shanghai")
DAY_NS = r.DAY_NS
MARK = "MARKER-retention-7f3a"  # a patrol note: its bytes must leave the database file
MANAGER = ("boss", "manager")


def t(day: date, hm: str = "10:00") -> int:
    return int(datetime.combine(day, time.fromisoformat(hm), ZONE).timestamp() * 10**9)


# -- pure ------------------------------------------------------------------------------------------


def test_the_cutoff_is_the_retention_before_now() -> None:
    now = t(date(2028, 12, 7))
    assert r.cutoff(now, 730) == now - 730 * DAY_NS


def test_the_audit_says_how_many_and_when_never_who() -> None:
    s = r.Swept()
    s.add(2, 1, 0, t(date(2026, 3, 1)), t(date(2026, 5, 2)))
    s.add(1, 0, 1, t(date(2026, 1, 9)), t(date(2026, 2, 1)))
    s.reads = 4
    text = r.reason(s, 730, ZONE)
    assert (s.violations, s.photos, s.notices, s.first_ns, s.last_ns) == (
        3,
        1,
        1,
        t(date(2026, 1, 9)),
        t(date(2026, 5, 2)),
    )
    assert "3 条" in text and "2026-01-09 至 2026-05-02" in text and "730 天" in text and "阅读记录 4 条" in text


def test_a_photo_file_another_kept_violation_names_stays() -> None:
    assert r.unused({"a", "b"}, {"b"}) == {"a"}


def test_the_setting_defaults_to_two_years_and_refuses_less_than_a_year_in_chinese() -> None:
    assert (Discipline().retention_days, Discipline().reads_retention_days) == (730, 730)
    with pytest.raises(ValidationError) as e:
        Discipline(retention_days=200)
    assert "保留期须在 366 至 36600 天之间" in str(e.value)
    with pytest.raises(ValidationError):
        Discipline(reads_retention_days=30)


# -- a pass over a real state database -------------------------------------------------------------


class Hall:
    def __init__(self, tmp: Path) -> None:
        self.now = [t(date(2026, 12, 7), "12:00")]
        self.journal = Journal(tmp / "state.sqlite", clock=lambda: self.now[0])
        repos = self.journal.repos
        self.photos = tmp / "photos"
        self.ledger = Ledger(repos.violations, Strikes(), "Asia/Shanghai", lambda: self.now[0])
        staff = [{"id": "A1", "name": "王芳", "department": "综合科", "window": "W01", "post": "A"}]
        cfg = HallConfig.model_validate({"site": "t", "timezone": "Asia/Shanghai", "staff": staff})
        self.rounds = Rounds(repos.violations, repos.patrol, Roster(cfg), self.photos, lambda: self.now[0])
        self.keep = Retention(
            Discipline(), "Asia/Shanghai", repos.violations, repos.ledger_reads, repos.audit, self.photos
        )

    def away(self, n: int, day: date, tag: str = "") -> list[int]:
        rows = [
            {"key": f"away:W01:A1:{day}:{tag}{i}", "kind": "away", "staff": "A1", "window": "W01",
             "at_ns": t(day) + i * 10**9, "evidence": [{"event": "punch", "ts_ns": t(day)}]}
            for i in range(n)
        ]  # fmt: skip
        return self.ledger.repo.add(rows, t(day, "12:00"))  # detected the same day

    def bytes_on_disk(self) -> bytes:
        path = self.journal.path
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def hall(tmp_path: Path) -> Hall:
    return Hall(tmp_path)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_old_violations_go_with_steps_photo_notice_and_their_bytes_the_escalation_stays(hall: Hall) -> None:
    three = hall.away(3, date(2026, 12, 7))
    for v in three:
        hall.ledger.act(v, "confirm", MANAGER, "r")
    (esc,) = hall.ledger.repo.escalations()
    patrol = hall.rounds.record("A1", "chat", MARK, None, None, MANAGER)
    hall.ledger.act(patrol, "confirm", MANAGER, "seen")
    photo = clean(_png())
    hall.rounds.add_photo(patrol, photo, MANAGER)
    hall.rounds.issue(patrol, f"{MARK} 整改", hall.now[0] + DAY_NS, MANAGER)
    hall.journal.repos.ledger_reads.add("boss", "manager", "ledger", {}, three, hall.now[0])
    file = hall.photos / f"{photo.digest}.png"
    assert file.exists() and MARK.encode() in hall.bytes_on_disk()

    # A year on, one of the three is appealed and decided: its last step is new, it stays longer.
    hall.now[0] = t(date(2027, 12, 7), "12:00")
    hall.ledger.act(three[0], "appeal", ("A1", "staff"), "called away")
    hall.ledger.act(three[0], "decide", MANAGER, "stands", "upheld")
    hall.journal.repos.ledger_reads.add("boss", "manager", "ledger", {}, [three[0]], hall.now[0])

    # Two years and a day after the first steps. SQLite built without secure_delete: the pass sets it.
    hall.now[0] = t(date(2028, 12, 8), "12:00")
    hall.journal.conn.execute("PRAGMA secure_delete = OFF")
    swept = hall.keep.run(hall.now[0])

    assert (swept.violations, swept.photos, swept.notices, swept.reads) == (3, 1, 1, 1)
    assert [v["id"] for v in hall.ledger.repo.find()] == [three[0]]
    assert hall.ledger.repo.get(patrol) is None and hall.journal.repos.patrol.photo(patrol) is None
    assert not file.exists()
    assert MARK.encode() not in hall.bytes_on_disk()  # not in a free page, nor in the WAL
    assert hall.journal.conn.execute("PRAGMA secure_delete").fetchone()[0] == 0  # as it was
    # The escalation those three raised stays sent: the kept one does not raise it again.
    assert hall.ledger.repo.escalations() == [esc]
    assert hall.ledger.escalate("A1", t(date(2026, 12, 7)), hall.now[0]) is None
    (a,) = [a for a in hall.journal.repos.audit.audit() if a["action"] == "retention"]
    assert (a["device"], a["actor"]) == ("discipline", "gateway")
    assert "3 条" in a["reason"] and "2026-12-07 至 2026-12-07" in a["reason"]
    assert "A1" not in a["reason"] and "王芳" not in a["reason"]
    assert [x["at_ns"] for x in hall.journal.repos.ledger_reads.find()] == [t(date(2027, 12, 7), "12:00")]


def test_without_the_pass_the_bytes_of_a_deleted_row_stay_in_the_file(tmp_path: Path) -> None:
    """Why the pass sets secure_delete and checkpoints: a plain DELETE leaves them readable."""
    hall = Hall(tmp_path)
    hall.rounds.record("A1", "chat", MARK, None, None, MANAGER)
    hall.journal.conn.execute("PRAGMA secure_delete = OFF")
    hall.journal.conn.execute("DELETE FROM violation_steps")
    hall.journal.conn.execute("DELETE FROM violations")
    assert MARK.encode() in hall.bytes_on_disk()


def test_a_pass_deletes_a_bounded_batch_a_tick_and_runs_once_a_day(hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 10)
    hall.away(25, date(2026, 12, 7))
    hall.now[0] = t(date(2028, 12, 8))
    count = lambda: hall.journal.conn.execute("SELECT COUNT(*) FROM violations").fetchone()[0]  # noqa: E731
    seen = []
    for s in range(4):
        hall.keep.tick(hall.now[0] + s * 10**9)
        seen.append(count())
    assert seen == [15, 5, 0, 0]  # ten a tick, never all at once
    (audit,) = [a for a in hall.journal.repos.audit.audit() if a["action"] == "retention"]
    assert "25 条" in audit["reason"]
    # Another old one the next hour waits for the next day's pass.
    hall.away(1, date(2026, 12, 7), "late")
    hall.keep.tick(hall.now[0] + 3600 * 10**9)
    assert count() == 1
    hall.keep.tick(hall.now[0] + DAY_NS + 4 * 10**9)
    assert count() == 0


def test_a_state_database_reopened_keeps_no_trace(tmp_path: Path) -> None:
    hall = Hall(tmp_path)
    hall.rounds.record("A1", "chat", MARK, None, None, MANAGER)
    hall.now[0] += 731 * DAY_NS
    hall.keep.run(hall.now[0])
    hall.journal.close()
    raw = sqlite3.connect(tmp_path / "state.sqlite")
    assert raw.execute("SELECT COUNT(*) FROM violations").fetchone()[0] == 0
    raw.close()
    assert MARK.encode() not in (tmp_path / "state.sqlite").read_bytes()
