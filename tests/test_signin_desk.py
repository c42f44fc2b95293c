"""The sign-in desk over a real state database, without the HTTP layer: how many password hashes
run at once is bounded."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gateway.config.api import Sessions
from gateway.signin import desk as desk_module
from gateway.signin.desk import HASHES_AT_ONCE, Refused, SignInDesk
from gateway.store.journal import Journal
from gateway.store.repos.accounts import Accounts
from tests.waits import until


def test_at_most_hashes_at_once_password_checks_run_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "state.sqlite")
    desk = SignInDesk(journal.repos.accounts, Sessions(max_failures_per_address=100))
    release = threading.Event()
    lock = threading.Lock()
    running = [0, 0]  # now, most at once
    asked = [0]

    def held(password: str) -> bool:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        release.wait(30)
        with lock:
            running[0] -= 1
        return False

    account = Accounts.account

    def counted(self: Accounts, name: str) -> object:
        asked[0] += 1
        return account(self, name)

    monkeypatch.setattr(desk_module.passwords, "verify_nobody", held)
    monkeypatch.setattr(Accounts, "account", counted)

    async def run() -> None:
        async def attempt(i: int) -> str:
            try:
                await desk.sign_in(f"nobody{i}", "wrong password", "10.0.0.1")
            except Refused as e:
                return e.code
            return "signed in"

        tasks = [asyncio.create_task(attempt(i)) for i in range(6)]
        # Every attempt has looked its name up (the step before the bound): the rest wait their turn.
        await until(lambda: asked[0] == 6 and running[0] == HASHES_AT_ONCE, what="six attempts at the bound")
        assert running == [HASHES_AT_ONCE, HASHES_AT_ONCE]
        release.set()
        assert await asyncio.gather(*tasks) == ["signin_failed"] * 6
        assert running[1] == HASHES_AT_ONCE

    try:
        asyncio.run(run())
    finally:
        release.set()
        journal.close()
