"""Named accounts and their sign-in sessions (gateway/signin/ uses them; `hallgate user` manages them).

A password is kept only as its argon2id hash; a session only as the SHA-256 digest of its token,
so neither this file nor a copy of it lets anyone sign in. Sessions are rows, not signed cookies:
sign-out, a changed password or a disabled account ends them at once, in this gateway and from
the `hallgate user` command run beside it (another process on the same file).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.repository import Repository
from gateway.store.sqlite import transaction


@dataclass(frozen=True, slots=True)
class Account:
    name: str  # the sign-in name, as the audit names the person
    display: str  # the person's name as the pages show it (王芳)
    role: str
    hash: str  # argon2id, PHC string
    disabled: bool
    created_ns: int
    changed_ns: int
    staff_id: str | None = None  # a staff account's person in the registry: their own ledger and notices


@dataclass(frozen=True, slots=True)
class SessionRow:
    account: Account
    created_ns: int
    seen_ns: int


class AccountExists(ValueError):
    """An account of that name is there already."""


_ACCOUNT = "a.name, a.display, a.role, a.hash, a.disabled, a.created_ns, a.changed_ns, a.staff_id"


def _account(row: tuple) -> Account:  # type: ignore[type-arg]
    return Account(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7])


class Accounts(Repository):
    name = "accounts"
    migrations = (
        """
        CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            display TEXT NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_ns INTEGER NOT NULL,
            changed_ns INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE sessions (
            digest BLOB PRIMARY KEY,
            name TEXT NOT NULL REFERENCES accounts (name),
            created_ns INTEGER NOT NULL,
            seen_ns INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX sessions_by_name ON sessions (name);
        """,
        # A staff account names its person's staff id (the registry's), so it reads its own ledger.
        "ALTER TABLE accounts ADD COLUMN staff_id TEXT;",
    )

    # -- accounts ----------------------------------------------------------------------------

    def add(self, name: str, display: str, role: str, hash: str, staff_id: str | None = None) -> None:
        now = self.clock()
        with transaction(self.conn) as c:
            if c.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountExists(name)
            c.execute(
                "INSERT INTO accounts (name, display, role, hash, disabled, created_ns, changed_ns, staff_id) "
                "VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (name, display, role, hash, now, now, staff_id),
            )

    def account(self, name: str) -> Account | None:
        row = self.conn.execute(f"SELECT {_ACCOUNT} FROM accounts a WHERE a.name = ?", (name,)).fetchone()
        return None if row is None else _account(row)

    def accounts(self) -> list[Account]:
        return [_account(r) for r in self.conn.execute(f"SELECT {_ACCOUNT} FROM accounts a ORDER BY a.name")]

    def set_hash(self, name: str, hash: str) -> bool:
        """A new password hash; every session of the account ends (a password given away is
        changed to throw out whoever used it). False: no such account."""
        with transaction(self.conn) as c:
            changed = c.execute(
                "UPDATE accounts SET hash = ?, changed_ns = ? WHERE name = ?", (hash, self.clock(), name)
            ).rowcount
            c.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return bool(changed)

    def rehash(self, name: str, old: str, new: str) -> None:
        """The same password under newer argon2 parameters (at sign-in); sessions stay."""
        with transaction(self.conn) as c:
            c.execute("UPDATE accounts SET hash = ? WHERE name = ? AND hash = ?", (new, name, old))

    def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable (its sessions end at once) or enable an account. False: no such account."""
        with transaction(self.conn) as c:
            changed = c.execute(
                "UPDATE accounts SET disabled = ?, changed_ns = ? WHERE name = ?", (int(disabled), self.clock(), name)
            ).rowcount
            if disabled:
                c.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return bool(changed)

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, digest: bytes, name: str, now_ns: int) -> None:
        with transaction(self.conn) as c:
            c.execute(
                "INSERT INTO sessions (digest, name, created_ns, seen_ns) VALUES (?, ?, ?, ?)",
                (digest, name, now_ns, now_ns),
            )

    def session(self, digest: bytes) -> SessionRow | None:
        row = self.conn.execute(
            f"SELECT {_ACCOUNT}, s.created_ns, s.seen_ns FROM sessions s JOIN accounts a ON a.name = s.name "
            "WHERE s.digest = ?",
            (digest,),
        ).fetchone()
        return None if row is None else SessionRow(_account(row[:8]), row[8], row[9])

    def touch(self, digest: bytes, now_ns: int) -> None:
        with transaction(self.conn) as c:
            c.execute("UPDATE sessions SET seen_ns = ? WHERE digest = ?", (now_ns, digest))

    def end_session(self, digest: bytes) -> bool:
        with transaction(self.conn) as c:
            return bool(c.execute("DELETE FROM sessions WHERE digest = ?", (digest,)).rowcount)

    def sessions_of(self, name: str) -> int:
        return self.conn.execute("SELECT count(*) FROM sessions WHERE name = ?", (name,)).fetchone()[0]

    def prune(self, idle_before_ns: int, created_before_ns: int) -> int:
        """Delete the sessions that have ended by now (seen before the first, or opened before the second)."""
        with transaction(self.conn) as c:
            return c.execute(
                "DELETE FROM sessions WHERE seen_ns < ? OR created_ns < ?", (idle_before_ns, created_before_ns)
            ).rowcount
