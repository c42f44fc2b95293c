"""One persistence pattern for the state database: repositories over one connection manager.

A repository is a feature's tables: a `name`, its `migrations` (ordered SQL steps, never edited
once released: a change is a new step) and methods over a connection. `migrate` is handed the
list of repositories explicitly (nothing is found by scanning): the Journal's own, and the
stores the device kinds declare (`Kind.stores`). Each repository's version is a row of `schema_versions`, so a
feature adds a step without renumbering anyone else's, and a file written by a newer gateway is
refused naming the repository that is newer.

Until this table the whole file had one version, `PRAGMA user_version` (0 to 7): the first
`migrate` on such a file records what each repository already had at that level
(USER_VERSION_STEPS) and runs only what is missing. user_version then stays 7 for good, which is
what an older gateway needs to open the file without running its own migrations; a file above 7
was written by something this code does not know and is refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import ClassVar

# Step i took PRAGMA user_version from i to i + 1 by running the next migration of each repository
# named (in gateway/store/journal.py before repositories had versions of their own).
USER_VERSION_STEPS: tuple[tuple[str, ...], ...] = (
    ("health", "state", "quarantine"),
    ("alerts", "deliveries"),
    ("ratings", "punches"),
    ("commands", "audit", "pickup", "secrets"),
    ("occupancy",),
    ("pickup",),
    ("audit",),
)
USER_VERSION = len(USER_VERSION_STEPS)
_AT_USER_VERSION = Counter(name for step in USER_VERSION_STEPS for name in step)


class SchemaError(RuntimeError):
    """The file's schema is not one this code can use (written by a newer gateway)."""


class Repository:
    """A feature's tables and the methods over them; subclasses set `name` and `migrations`."""

    name: ClassVar[str]
    migrations: ClassVar[tuple[str, ...]]

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], int] = time.time_ns) -> None:
        self.conn = conn
        self.clock = clock


def migrate(conn: sqlite3.Connection, repositories: Sequence[type[Repository]], what: str) -> None:
    """Bring each repository's tables to its newest step, each step one transaction (BEGIN
    IMMEDIATE, the version read inside it: two processes opening one file migrate it once).
    Nothing is changed when any repository is newer than this code. `what` names the file in
    errors ("state database /var/lib/hallgate/state.sqlite")."""
    names = [r.name for r in repositories]
    if len(set(names)) != len(names):
        raise ValueError(f"a repository is registered twice: {sorted(n for n in names if names.count(n) > 1)}")
    _bridge(conn, what)
    have = versions(conn)
    for repo in repositories:
        if have.get(repo.name, 0) > len(repo.migrations):
            raise SchemaError(
                f"{what}：'{repo.name}' 的结构版本为 {have[repo.name]}，比本网关所知的（{len(repo.migrations)}）新 "
                f"('{repo.name}' is schema version {have[repo.name]}, newer than this gateway knows "
                f"({len(repo.migrations)}))：请运行较新的网关或移走该文件"
            )
    for repo in repositories:
        while (step := _next_step(conn, repo)) is not None:
            try:
                for statement in repo.migrations[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (repo.name, step + 1),
                )
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
    _settle_user_version(conn)


def versions(conn: sqlite3.Connection) -> dict[str, int]:
    """Each repository's schema version in this file (names no code registered included)."""
    return dict(conn.execute("SELECT name, version FROM schema_versions").fetchall())


def _next_step(conn: sqlite3.Connection, repo: type[Repository]) -> int | None:
    """The index of the repository's next migration, inside an open transaction; None (and no
    transaction) when it has run them all."""
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute("SELECT version FROM schema_versions WHERE name = ?", (repo.name,)).fetchone()
    version = 0 if row is None else row[0]
    if version < len(repo.migrations):
        return version
    conn.execute("COMMIT")
    return None


def _bridge(conn: sqlite3.Connection, what: str) -> None:
    """Once per file: `schema_versions`, filled from the file's user_version (see the docstring)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        level = conn.execute("PRAGMA user_version").fetchone()[0]
        if level > USER_VERSION:
            raise SchemaError(
                f"{what} 的结构版本为 {level}，比本网关所知的（{USER_VERSION}）新 "
                f"(schema version {level}, newer than this gateway knows)：请运行较新的网关或移走该文件"
            )
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").fetchone():
            conn.execute("CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID")
            conn.executemany(
                "INSERT INTO schema_versions (name, version) VALUES (?, ?)",
                Counter(name for step in USER_VERSION_STEPS[:level] for name in step).items(),
            )
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _settle_user_version(conn: sqlite3.Connection) -> None:
    """user_version says 7 once every repository of those steps has what it had at 7 (a new file,
    or one bridged from below 7), so that an older gateway opens the file as it is."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION:
        return
    have = versions(conn)
    if all(have.get(name, 0) >= n for name, n in _AT_USER_VERSION.items()):
        conn.execute(f"PRAGMA user_version = {USER_VERSION}")
