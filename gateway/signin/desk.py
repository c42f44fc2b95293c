"""The sign-in desk: checks a name and password, opens, finds and ends sessions.

One per gateway (gateway/runtime.py builds it over the state database's `accounts` repository).
Its clock is injected, so expiry and lockout are tested by moving the clock, never by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.commands.audit import Caller
from gateway.config.api import Sessions
from gateway.domain.signin import NS_PER_S, SessionPolicy, Throttle
from gateway.signin import passwords
from gateway.store.repos.accounts import Account, Accounts
from gateway.store.writes import Unwritable

log = logging.getLogger(__name__)

COOKIE = "hallgate_session"
# A session's last request is written at most this often: the idle timeout is hours, so a minute
# of slack costs nothing and spares the state database a write per request.
TOUCH_EVERY_NS = 60 * NS_PER_S
HASHES_AT_ONCE = 2


class Refused(Exception):
    """A sign-in or a session the desk will not accept: the API's status, code and specifics."""

    def __init__(self, status: int, code: str, detail: str, **params: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.params = status, code, detail, params


@dataclass(frozen=True, slots=True)
class Opened:
    token: str  # goes to the client once (in its cookie); the desk keeps only its digest
    account: Account
    expires_ns: int  # the absolute end; an idle session ends sooner


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class SignInDesk:
    def __init__(
        self, repo: Accounts, settings: Sessions, zone: str = "UTC", clock: Callable[[], int] = time.time_ns
    ) -> None:
        """`zone`: the hall's time zone, in which a lockout says until when."""
        self.repo = repo
        self.zone = ZoneInfo(zone)
        self.settings = settings
        self.clock = clock
        hour, minute = 3600 * NS_PER_S, 60 * NS_PER_S
        self.policy = SessionPolicy(int(settings.idle_hours * hour), int(settings.absolute_hours * hour))
        window, lockout = int(settings.failure_window_minutes * minute), int(settings.lockout_minutes * minute)
        self.names = Throttle(settings.max_failures, window, lockout)
        self.addresses = Throttle(settings.max_failures_per_address, window, lockout)
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)

    def _locked(self, name: str, address: str, now: int) -> None:
        until = max(self.names.locked_until(name, now) or 0, self.addresses.locked_until(address, now) or 0)
        if until:
            raise self._lockout(until, now)

    def _lockout(self, until_ns: int, now_ns: int) -> Refused:
        wait_s = max(1, -(-(until_ns - now_ns) // NS_PER_S))
        return Refused(
            429,
            "signin_locked",
            f"too many failed sign-ins: try again in {wait_s} s",
            retry_after=wait_s,
            minutes=-(-wait_s // 60),
            until=datetime.fromtimestamp(until_ns / NS_PER_S, self.zone).strftime("%H:%M"),
        )

    async def sign_in(self, name: str, password: str, address: str) -> Opened:
        """A new session for the account, or Refused: a wrong name or password (one answer for
        both), a disabled account (only with its right password), or a lockout."""
        name = passwords.normal_name(name)
        self._locked(name, address, self.clock())
        account = self.repo.account(name)
        # The hash is checked off the event loop (tens of milliseconds of CPU and 64 MiB, the GIL
        # released), and checked for a name nobody has too, so the time of the answer tells nothing.
        # At most HASHES_AT_ONCE at a time: a burst of sign-ins (or guesses from many addresses)
        # waits its turn rather than taking every core from the hall's devices.
        async with self._hashing:
            if account is None:
                ok = await asyncio.to_thread(passwords.verify_nobody, password)
            else:
                ok = await asyncio.to_thread(passwords.verify, account.hash, password)
        now = self.clock()
        if account is None or not ok:
            self._locked(name, address, now)  # another request may have locked it meanwhile
            locks = [t for t in (self.names.failed(name, now), self.addresses.failed(address, now)) if t]
            # A name nobody has is not logged: it is often a password typed into the wrong box.
            who = name if account is not None else "an unknown name"
            log.info("sign-in refused: %s from %s (%s)", who, address, "locked out" if locks else "wrong password")
            if locks:
                raise self._lockout(max(locks), now)
            raise Refused(401, "signin_failed", "wrong name or password")
        if account.disabled:
            raise Refused(403, "account_disabled", f"the account {name} is disabled", name=name)
        self.names.succeeded(name)
        if passwords.needs_rehash(account.hash):  # made under older argon2 parameters
            async with self._hashing:
                self.repo.rehash(name, account.hash, await asyncio.to_thread(passwords.hash_password, password))
        self.repo.prune(now - self.policy.idle_ns, now - self.policy.absolute_ns)
        token = secrets.token_urlsafe(32)
        self.repo.open_session(digest(token), name, now)
        log.info("signed in: %s (%s) from %s", name, account.role, address)
        return Opened(token, account, now + self.policy.absolute_ns)

    def caller(self, token: str) -> Caller:
        """Who holds this session, or Refused (ended: signed out, expired, account disabled)."""
        key = digest(token)
        row = self.repo.session(key)
        if row is None or row.account.disabled:
            raise Refused(401, "session_ended", "this session has ended (signed out, or the account changed)")
        now = self.clock()
        ended = self.policy.ended(row.created_ns, row.seen_ns, now)
        if ended is not None:
            with contextlib.suppress(Unwritable):  # refused all the same; pruned at a later sign-in
                self.repo.end_session(key)
            hours = f"{self.settings.idle_hours if ended == 'idle' else self.settings.absolute_hours:g}"
            raise Refused(401, "session_ended", f"the session expired ({ended}: {hours} h)", case=ended, hours=hours)
        if now - row.seen_ns >= TOUCH_EVERY_NS:
            # While the state database cannot be written (logged and counted by its Writes, shown by
            # /readyz) the person goes on working; the idle time counts from the last write.
            with contextlib.suppress(Unwritable):
                self.repo.touch(key, now)
        a = row.account
        # A staff account stands for its person: the staff id it was given, else its sign-in name.
        staff = (a.staff_id or a.name) if a.role == "staff" else None
        return Caller(a.role, a.name, person=a.display, staff=staff)

    def sign_out(self, token: str) -> bool:
        return self.repo.end_session(digest(token))
