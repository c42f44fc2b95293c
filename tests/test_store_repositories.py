"""The state database's repositories: per-repository schema versions, the one-time bridge from the
file-wide PRAGMA user_version, and repositories handed to the Journal explicitly.

The files in tests/fixtures/ were written by the gateway before repositories (commit 75d0c57, see
tests/fixtures/make_state_files.py), with a row in every table.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.kinds.attendance.store import PunchStore
from gateway.kinds.rating_pad.store import RatingStore
from gateway.kinds.registry import stores
from gateway.store.journal import Journal, JournalError
from gateway.store.repos.health import HealthHistory
from gateway.store.repository import Repository
from gateway.store.staged import connect

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_TABLES = {
    "health_history", "projection_state", "quarantine", "alerts", "deliveries", "sqlite_sequence", "ratings",
    "rating_events", "workorders", "workorder_log", "punches", "commands", "audit", "pickup_items",
    "gateway_secrets", "occupancy_minutes",
}  # fmt: skip
AT_SEVEN = {
    "health": 1, "state": 1, "quarantine": 1, "alerts": 1, "deliveries": 1, "ratings": 1, "punches": 1,
    "commands": 1, "audit": 2, "pickup": 2, "secrets": 1, "occupancy": 1,
}  # fmt: skip
# Steps added since the bridge, which an old file gains when it opens: each repository's version,
# and what they add to the schema.
NOW = AT_SEVEN | {
    "alerts": 3,
    "violations": 1,
    "accounts": 2,
    "reports": 1,
    "patrol": 1,
    "report_runs": 1,
    "ledger_reads": 1,
    "reminders": 1,
    "staff": 1,
}
NEW_TABLES = {  # empty in an old file
    *("accounts", "sessions", "violations", "violation_steps", "escalations", "reports", "violation_photos", "notices"),
    *("report_schedule", "report_runs", "report_deliveries"),
    *("ledger_reads", "reminders", "staff_overlay"),
}
# Tables of the single-version code a later step altered: LATER holds them as they are now.
ALTERED = {"workorders"}
LATER = {
    (
        "table",
        "workorders",
        "CREATE TABLE workorders (id INTEGER PRIMARY KEY, rating_key TEXT NOT NULL UNIQUE, case_id TEXT NOT NULL, "
        "window TEXT NOT NULL, staff TEXT NOT NULL, item TEXT NOT NULL, score INTEGER NOT NULL, reasons TEXT NOT NULL, "
        "device TEXT NOT NULL, rated_ns INTEGER NOT NULL, opened_ns INTEGER NOT NULL, deadline_ns INTEGER NOT NULL, "
        "state TEXT NOT NULL, updated_ns INTEGER NOT NULL, callback_note TEXT, rectification TEXT, "
        "appeal_reason TEXT, close_note TEXT , satisfaction TEXT)",
    ),
    (
        "index",
        "alerts_rule_key",
        "CREATE INDEX alerts_rule_key ON alerts (rule, key) WHERE state IN ('open', 'acknowledged')",
    ),
    (
        "table",
        "accounts",
        "CREATE TABLE accounts (name TEXT PRIMARY KEY, display TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL, "
        "disabled INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL, changed_ns INTEGER NOT NULL , "
        "staff_id TEXT) WITHOUT ROWID",
    ),
    (
        "table",
        "sessions",
        "CREATE TABLE sessions (digest BLOB PRIMARY KEY, name TEXT NOT NULL REFERENCES accounts (name), "
        "created_ns INTEGER NOT NULL, seen_ns INTEGER NOT NULL ) WITHOUT ROWID",
    ),
    ("index", "sessions_by_name", "CREATE INDEX sessions_by_name ON sessions (name)"),
}


def copy(level: int, tmp_path: Path) -> Path:
    path = tmp_path / "state.sqlite"
    shutil.copyfile(FIXTURES / f"state-v{level}.sqlite", path)
    return path


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}


# Without the kinds' stores (a journal opened alone) the tables they alter keep their old shape.
LATER_UNSTORED = {s for s in LATER if s[1] not in ALTERED}


def schema(path: Path) -> set[tuple[str, str, str]]:
    """(type, name, SQL) of every table and index, comments and layout left out."""
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name != 'schema_versions'").fetchall()
    return {(t, n, " ".join(re.sub(r"--[^\n]*", "", sql or "").split()).replace("( ", "(")) for t, n, sql in found}


LEDGER_PREFIXES = ("violation", "escalation", "report", "notice", "ledger_reads", "reminders", "staff_overlay")
LEDGER_PREFIXES += ("sqlite_autoindex_",)


def ledger_schema(tmp_path: Path) -> set[tuple[str, str, str]]:
    """The discipline ledger's (with its patrol records), the reports' and the staff overlay's tables
    and indexes (repositories added after the bridge), as a new file has them."""
    Journal(tmp_path / "fresh.sqlite").close()
    return {
        s
        for s in schema(tmp_path / "fresh.sqlite")
        if s[1].startswith(LEDGER_PREFIXES)
        and not s[1].startswith(("sqlite_autoindex_a", "sqlite_autoindex_se"))  # accounts, sessions: in LATER
    }


def with_alert_words(shape: set[tuple[str, str, str]], tmp_path: Path) -> set[tuple[str, str, str]]:
    """An old file's schema once the alerts' third step added its columns (the table's SQL as a
    new file has it: SQLite rewrites the CREATE TABLE of an altered table)."""
    Journal(tmp_path / "fresh-alerts.sqlite").close()
    fresh = {s for s in schema(tmp_path / "fresh-alerts.sqlite") if s[:2] == ("table", "alerts")}
    return {s for s in shape if s[:2] != ("table", "alerts")} | fresh


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_a_file_at_user_version_7_opens_with_every_table_and_row_intact(tmp_path: Path) -> None:
    path = copy(7, tmp_path)
    before, shape = rows(path), schema(path)
    assert set(before) == LEGACY_TABLES and all(before[t] for t in LEGACY_TABLES - {"sqlite_sequence"})
    j = Journal(path)
    assert j.versions() == NOW and j.version == 7
    j.close()
    after = rows(path)
    assert after.pop("schema_versions") == sorted(NOW.items(), key=repr)
    assert [after.pop(t) for t in sorted(NEW_TABLES)] == [[]] * len(NEW_TABLES)
    # The alerts gained their words' columns (empty in the old rows), nothing else was rewritten.
    assert after.pop("alerts") == [(*r, None, None, None) for r in before.pop("alerts")]
    assert after == before  # no migration ran again, nothing was dropped or rewritten
    # only the steps added since the bridge ran
    assert schema(path) == with_alert_words(shape, tmp_path) | LATER_UNSTORED | ledger_schema(tmp_path)
    # ...and the features read their rows through the repositories.
    j = Journal(path)
    assert j.transitions("pad-1") == [(1, "offline", "掉线")]
    assert j.load_state("occupancy") == {"consult": 3}
    assert [(q.reason, q.payload) for q in j.quarantined()] == [("not_json", b"\x00\x01\x02\x03\x04")]
    assert [r[1:3] for r in j.alert_rows(active=True)] == [("offline", "pad-1")]
    assert j.pending_deliveries("webhook") == [(1, '{"id": 1}')]
    assert j.command("ops:k1")[1] == "cmd-1"  # type: ignore[index]
    assert [(i["item"], i["reminded_ns"]) for i in j.pickup_items()] == [("营业执照", None)]
    assert j.secret_key("pickup", lambda: b"new") == b"\x01\x02"
    assert j.occupancy_minutes("consult", 0, 10**12) == [(60_000_000_000, 3, 1, 2, 0)]
    late = j.amend_audit("cmd-1", "opened_late", None, at_ns=2_000_012)  # the command was written at 12
    assert late is not None and (late["amends"], late["latency_ms"]) == (1, 2.0)
    j.close()
    conn = connect(path)
    assert [r.case_id for _, r in RatingStore(conn).ratings(start_ns=0, end_ns=100)] == ["C1"]
    assert PunchStore(conn).day("2026-12-06")["S1"][0].device == "att-1"
    conn.close()


def test_a_file_at_user_version_5_keeps_its_rows_and_gains_the_later_steps(tmp_path: Path) -> None:
    path = copy(5, tmp_path)
    before = rows(path)
    j = Journal(path)
    assert j.versions() == NOW and j.version == 7  # an older gateway opens it as a level-7 file
    [item] = j.pickup_items()
    assert (item["item"], item["reminded_ns"]) == ("营业执照", None)  # the column the sixth step added
    assert j.amend_audit("cmd-1", "failed_late", "jammed", at_ns=20) is not None  # the seventh
    j.close()
    after = rows(path)
    assert after["pickup_items"] == [(*before["pickup_items"][0], None)]
    assert after["audit"][0] == (*before["audit"][0], None)
    assert after["alerts"] == [(*r, None, None, None) for r in before["alerts"]]
    assert {t: after[t] for t in LEGACY_TABLES - {"pickup_items", "audit", "alerts"}} == {
        t: before[t] for t in LEGACY_TABLES - {"pickup_items", "audit", "alerts"}
    }
    v7 = with_alert_words(schema(FIXTURES / "state-v7.sqlite"), tmp_path)
    assert schema(path) == v7 | LATER_UNSTORED | ledger_schema(tmp_path)


def test_a_new_file_has_the_schema_the_single_version_code_made(tmp_path: Path) -> None:
    """A new file has every table and index the single-version code made, the steps added since,
    and the same schema as an old file opened by this code (the kinds' stores added since, e.g.
    the queue's, are made in both)."""
    Journal(tmp_path / "state.sqlite", stores=stores()).close()
    (tmp_path / "old").mkdir()
    upgraded = copy(7, tmp_path / "old")
    Journal(upgraded, stores=stores()).close()
    kept = {s for s in with_alert_words(schema(FIXTURES / "state-v7.sqlite"), tmp_path) if s[1] not in ALTERED}
    assert kept | LATER <= schema(tmp_path / "state.sqlite")
    assert schema(tmp_path / "state.sqlite") == schema(upgraded)
    assert user_version(tmp_path / "state.sqlite") == 7


def test_a_repository_newer_than_the_code_is_refused_by_name_and_nothing_changes(tmp_path: Path) -> None:
    path = copy(5, tmp_path)
    Journal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_versions SET version = 3 WHERE name = 'audit'")
        conn.execute("UPDATE schema_versions SET version = 1 WHERE name = 'pickup'")  # one step behind
    before = rows(path)
    with pytest.raises(JournalError, match=r"'audit' is schema version 3, newer than this gateway knows \(2\)"):
        Journal(path)
    assert rows(path) == before  # pickup's step was not run either


class Visits(Repository):
    """A store as a device kind will declare it."""

    name = "visits"
    migrations = (
        "CREATE TABLE visits (id INTEGER PRIMARY KEY, device TEXT NOT NULL);",
        "ALTER TABLE visits ADD COLUMN at_ns INTEGER;",
    )


def test_a_store_is_migrated_when_handed_to_the_journal_and_only_then(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    Journal(path).close()
    assert "visits" not in rows(path)
    j = Journal(path, stores=[Visits])
    assert j.versions()["visits"] == 2
    j.conn.execute("INSERT INTO visits (device, at_ns) VALUES ('pad-1', 5)")
    j.close()
    Journal(path).close()  # a store of a kind not configured now: its tables and version are left alone
    assert rows(path)["visits"] == [(1, "pad-1", 5)]
    with pytest.raises(ValueError, match="registered twice"):
        Journal(path, stores=[HealthHistory])
