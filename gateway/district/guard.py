"""Who may read the district's view: a token district.yaml lists, as `Authorization: Bearer` (the
API) or as the pages' cookie, which only /login sets (HttpOnly: no script on a page can read it;
SameSite=Strict; Secure when the browser came over https, a TLS proxy's X-Forwarded-Proto too).

Wrong tokens are counted per client address: LIMIT within WINDOW lock the address out for
LOCKOUT (429 with Retry-After, the right token refused too while it lasts, or the lockout would
still tell a guess right from wrong). Tokens are compared in constant time (deps.role_of)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request, Response

from gateway.api.deps import role_of
from gateway.api.errors import ApiError
from gateway.domain.signin import NS_PER_S, Throttle

COOKIE = "hallgate_district"
LIMIT, WINDOW_S, LOCKOUT_S = 10, 15 * 60, 15 * 60


class Guard:
    def __init__(self, tokens: dict[str, str], clock: Callable[[], int] = time.time_ns) -> None:
        self.tokens, self.clock = tokens, clock
        self.throttle = Throttle(LIMIT, WINDOW_S * NS_PER_S, LOCKOUT_S * NS_PER_S)

    def role(self, request: Request, presented: str) -> str:
        """The token's role; ApiError 401 for a wrong one, 429 while its address is locked out."""
        address = request.client.host if request.client else "unknown"
        now = self.clock()
        self._locked(address, now)
        role = role_of(self.tokens, presented)
        if role is None:
            self.throttle.failed(address, now)
            self._locked(address, now)
            raise ApiError(401, "bad_token", "this token is not in district.yaml's api.tokens")
        return role

    def _locked(self, address: str, now: int) -> None:
        until = self.throttle.locked_until(address, now)
        if until is not None:
            wait_s = max(1, -(-(until - now) // NS_PER_S))
            raise ApiError(429, "token_locked", f"too many wrong tokens: retry in {wait_s} s", minutes=-(-wait_s // 60))


def retry_after(e: ApiError) -> dict[str, str] | None:
    return {"Retry-After": str(int(e.params["minutes"]) * 60)} if e.status == 429 else None


def set_cookie(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
    response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="strict", secure=secure)
