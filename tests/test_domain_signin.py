"""Sign-in rules without I/O: session expiry (idle and absolute) and the lockout throttle."""

from __future__ import annotations

from gateway.domain.signin import NS_PER_S, SessionPolicy, Throttle

H = 3600 * NS_PER_S
M = 60 * NS_PER_S


def test_a_session_ends_idle_or_at_its_absolute_limit_whichever_first() -> None:
    p = SessionPolicy(idle_ns=8 * H, absolute_ns=12 * H)
    assert p.ended(0, 0, 8 * H - 1) is None
    assert p.ended(0, 0, 8 * H) == "idle"
    assert p.ended(0, 7 * H, 11 * H) is None  # used an hour ago
    assert p.ended(0, 11 * H, 12 * H) == "absolute"  # however recently used


def test_failures_lock_a_key_for_the_lockout_then_it_may_try_again() -> None:
    t = Throttle(limit=3, window_ns=15 * M, lockout_ns=15 * M)
    assert t.failed("wang", 0) is None and t.failed("wang", M) is None
    assert t.failed("wang", 2 * M) == 17 * M  # the third locks it
    assert t.locked_until("wang", 17 * M - 1) == 17 * M
    assert t.locked_until("wang", 17 * M) is None
    assert t.failed("wang", 17 * M) is None  # a fresh count after the lockout
    assert t.locked_until("li", 0) is None  # keys are apart


def test_failures_outside_the_window_are_forgotten_and_success_clears() -> None:
    t = Throttle(limit=2, window_ns=15 * M, lockout_ns=15 * M)
    t.failed("wang", 0)
    assert t.failed("wang", 15 * M) is None  # the first was 15 minutes ago
    t.succeeded("wang")
    assert t.failed("wang", 16 * M) is None


def test_the_throttle_keeps_at_most_max_keys() -> None:
    t = Throttle(limit=5, window_ns=H, lockout_ns=H, max_keys=100)
    for i in range(1000):
        t.failed(f"made-up-{i}", i)
    assert len(t) == 100
    assert t.failed("made-up-999", 2000) is None and len(t) == 100  # the newest are the ones kept
