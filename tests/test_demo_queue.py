"""The demo's queue system tried from outside, as a manager would (issue 21, "Done when"): the real
`hallgate demo` process, its API over HTTP, nothing of it imported."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_support import Demo, running_demo
from tests.waits import wait_for

# The demo plays a day at 60 times real time from 08:30 whenever it starts: the first tickets come
# within minutes of day time (seconds here), the first visits end soon after the windows open at
# 09:00. The deadlines bound the wait; nothing below depends on how fast it goes.
DEADLINE_S = 120


def get(demo: Demo, path: str, **params: Any) -> Any:
    r = httpx.get(f"{demo.base}{path}", params=params, headers=demo.headers, timeout=10)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def waiting(demo: Demo) -> dict[str, int | None]:
    return {line["line"]: line["waiting"] for line in get(demo, "/api/v1/queue")}


def test_the_demo_queue_moves_and_its_day_has_served_visits_with_waiting_times(tmp_path: Path) -> None:
    hallgate = Path(sys.executable).parent / "hallgate"  # the installed console script
    with running_demo(hallgate, tmp_path) as demo:
        # The lines, each with the queue server's count of people waiting; two reads differ.
        first = wait_for(lambda: waiting(demo), timeout=DEADLINE_S, what="the queue's lines")
        assert set(first) == {"A", "B", "C", "D"} and all(isinstance(n, int) for n in first.values()), first
        moved = wait_for(lambda: (now := waiting(demo)) != first and now, timeout=DEADLINE_S, what="a count moving")
        assert set(moved) == set(first)
        lines = get(demo, "/api/v1/queue")
        assert all(line["name"] for line in lines), lines  # 商事登记, ...
        # The queue's day: the date its snapshot carries (today's when the demo started).
        day = next(line["snapshot_at"] for line in lines if line["snapshot_at"])[:10]

        # The day's summary: visits served, with their waiting and handling times.
        def served() -> dict[str, Any] | None:
            total = get(demo, "/api/v1/queue/summary", date=day)["total"]
            return total if total["served"] > 0 and total["waiting"]["median_s"] is not None else None

        total = wait_for(served, timeout=DEADLINE_S, what="a served visit with its waiting time")
        assert total["tickets"] >= total["served"] > 0 and total["handling"]["median_s"] > 0, total
        by_line = get(demo, "/api/v1/queue/summary", date=day, by="line")
        assert {g["key"] for g in by_line["groups"]} <= set(first) and by_line["groups"], by_line

        # The rating pads rate the queue's visits: every rating names a visit that finished at its
        # window, by the visit's case id (a pad making up ratings of its own would name none).
        end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()

        def rated() -> list[dict[str, Any]]:
            return [r for r in get(demo, "/api/v1/ratings", start=day, end=end, limit=1000) if r["rated"]]

        ratings = wait_for(rated, timeout=DEADLINE_S, what="a rating")

        def finished() -> dict[str, tuple[str, str]] | None:
            done = {
                t["case_id"]: (t["window"], v["ticket"])
                for v in get(demo, "/api/v1/queue/visits", date=day)
                for t in v["transactions"]
                if t["outcome"] in ("done", "pending_materials", "rejected")  # a finished case
            }
            # a rating may be projected before the visit's end: wait for the visits, bounded
            return done if all(r["case_id"] in done for r in ratings) else None

        visits = wait_for(finished, timeout=30, what=f"the visits of the ratings {[r['case_id'] for r in ratings]}")
        for r in ratings:
            assert r["case_id"] and not r["no_case_id"], r
            assert visits[r["case_id"]] == (r["window"], r["ticket"]), r

        # 评价率 as a manager reads it: rated visits over the day's served visits, not per pad event.
        figures = get(demo, "/api/v1/ratings/summary", date=day)["visits"]
        assert figures is not None and figures["total"]["served"] > 0, figures
        total = figures["total"]
        assert total["rating_rate"] == pytest.approx(total["rated"] / total["served"], abs=1e-4), total
        rc, rest = demo.stop()
    assert rc == 0, rest
    assert "Traceback" not in rest
