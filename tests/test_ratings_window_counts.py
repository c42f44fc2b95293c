"""The 差评 of the day per window (the `bad_ratings_window` alert) are read from the state database
once a day and counted up from then on: a tick's cost does not grow with the day's ratings, and
the count stays exact (resends, second ratings of a case and a replaced rating included)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from gateway.config.hall import HallConfig
from gateway.domain.canonical import Event
from gateway.kinds.rating_pad import RatingsProjection
from gateway.kinds.registry import stores
from gateway.store.journal import Journal

NS = 10**9
DAY0 = 1_795_395_600 * NS  # Monday 2026-11-23 09:00 hall time


def _rated(seq: int, ts: int, case: str, score: int) -> Event:
    return Event("rp-1", "rated", ts, {"case_id": case, "staff_id": "S1", "item": "x", "score": score}, seq)


def _window_count(p: RatingsProjection, now: int) -> str | None:
    return next((c.summary for c in p.conditions(now) if c.rule == "bad_ratings_window"), None)


def test_the_days_bad_ratings_per_window_are_read_once_a_day_and_counted_exactly(tmp_path: Path) -> None:
    cfg = HallConfig.model_validate({"site": "t", "timezone": "Asia/Shanghai"})
    devices = {"rp-1": SimpleNamespace(id="rp-1", kind="rating_pad", config=SimpleNamespace(zone="z", window="W01"))}
    journal = Journal(tmp_path / "state.sqlite", stores=stores())
    p = RatingsProjection(cfg, devices)  # type: ignore[arg-type]
    close = p.attach(journal)
    assert p.store is not None
    reads = 0
    real = p.store.bad_by_window

    def counted(start: int, end: int) -> dict[str, int]:
        nonlocal reads
        reads += 1
        return real(start, end)

    p.store.bad_by_window = counted  # type: ignore[method-assign]
    seq = 0
    for tick in range(200):  # 200 ticks, each with a batch of ratings: 2 差评 and 8 good ones
        now = DAY0 + tick * NS
        for i in range(10):
            seq += 1
            p.apply(_rated(seq, now, f"c{seq}", 2 if i < 2 else 5), now)
            p.apply(_rated(seq, now, f"c{seq}", 2 if i < 2 else 5), now)  # resent: counted once
        p.after_batch(now)
        n = 2 * (tick + 1)
        assert _window_count(p, now) == (f"{n} 差评 at window W01 today" if n >= 3 else None)  # the limit: 3
    assert reads == 1
    # An earlier rating of a case replaces the one that counted (a good one for a 差评): read again.
    now = DAY0 + 300 * NS
    p.apply(_rated(10_000, DAY0 - NS, "c1", 5), now)
    p.after_batch(now)
    assert _window_count(p, now) == "399 差评 at window W01 today" and reads == 2
    # The next day starts from the database's (no) 差评 of that day.
    assert _window_count(p, DAY0 + 86_400 * NS) is None and reads == 3
    close()
    journal.close()
