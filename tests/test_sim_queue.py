"""The queue system simulator against a real Mosquitto, counted by `mosquitto_sub`: a large day at
full speed, the rating pads driven by its visits, its faults, its command line."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.cli import main
from firmware_sim.common import CST
from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto
from tests.sim_support import TS_RE, Line, MqttWatcher, on, retained
from tests.waits import until

SITE = "q-hall"
BASE = f"hall/{SITE}/queue/q-1"
# device-protocols.md, "Queue system": the fields of each event (besides seq, ts, type, ticket)
DOC_FIELDS = {
    "issued": {"line", "item", "source", "waiting_ahead"},
    "called": {"window", "staff_id"},  # and `recall: true` on a repeat call
    "started": {"window", "staff_id"},
    "finished": {"window", "staff_id", "case_id", "result"},
    "transferred": {"from_window", "to_line"},
    "no_show": {"window"},
}


def hall(broker: Mosquitto, windows: int, tickets: int, speed: Any, pads: bool = False, **more: Any) -> HallSimulator:
    sim = {"windows": windows, "tickets": tickets, "speed": speed, "date": "2026-12-07", **more}
    devices: list[dict[str, Any]] = [{"id": "q-1", "kind": "queue", "sim": sim}]
    if pads:
        devices += [{"id": f"rp-w{n:02d}", "kind": "rating_pad", "window": f"W{n:02d}"} for n in range(1, windows + 1)]
    return HallSimulator(
        {"site": SITE, "devices": devices}, mqtt=MqttSettings(port=broker.port), rate_per_min=2.0, state_dir=None
    )


def waiting_from(events: list[dict[str, Any]]) -> Counter[str]:
    """People waiting per line, worked out independently from the events seen so far."""
    waiting: Counter[str] = Counter()
    where: dict[str, str] = {}
    for e in events:
        if e["type"] == "issued":
            waiting[e["line"]] += 1
            where[e["ticket"]] = e["line"]
        elif e["type"] == "transferred":
            waiting[e["to_line"]] += 1
            where[e["ticket"]] = e["to_line"]
        elif e["type"] == "called" and not e.get("recall"):
            waiting[where[e["ticket"]]] -= 1
    return waiting


def test_a_day_of_3000_tickets_at_full_speed_reaches_the_broker_once_each_with_its_ratings(
    mosquitto: Mosquitto,
) -> None:
    async def scenario(watch: MqttWatcher) -> None:
        sim = hall(mosquitto, 30, 3000, "full", pads=True)
        q: QueueSystem = sim.device("q-1")
        async with sim:
            await q.wait_day(timeout=240)
            for n in range(1, 31):
                await sim.device(f"rp-w{n:02d}").wait_sent(timeout=60)
            wanted = len(q.plan.events)
            await watch.wait(on(f"{BASE}/event"), count=wanted, timeout=120)
            finished = sum(1 for e in q.plan.events if e.fields["type"] == "finished")
            await watch.wait(lambda ln: "/rating/" in ln.topic and ln.topic.endswith("/event"), finished, 60)
        lines = watch.matching(lambda ln: ln.topic.startswith(f"hall/{SITE}/"))
        events = [ln.json for ln in lines if ln.topic == f"{BASE}/event"]
        assert len(events) == wanted == sum(1 for e in q.plan.events)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + wanted)), "every event once, seq increasing"
        assert all(TS_RE.match(e["ts"]) and e["ts"].startswith("2026-12-07T") for e in events)
        assert Counter(e["type"] for e in events)["issued"] == 3000
        for e in events:
            extra = {"recall"} if e.get("recall") is True else set()
            assert set(e) == {"seq", "ts", "type", "ticket"} | DOC_FIELDS[e["type"]] | extra, e
        # the snapshots: in line with the events before them, the last one retained
        seen: list[dict[str, Any]] = []
        snapshots = 0
        for ln in lines:
            if ln.topic == f"{BASE}/event":
                seen.append(ln.json)
            elif ln.topic == f"{BASE}/snapshot" and seen:
                counted = waiting_from(seen)
                assert {x["line"]: x["waiting"] for x in ln.json["lines"]} == {x: counted[x] for x in "ABCD"}
                snapshots += 1
        assert snapshots > 100  # one a minute of day time
        last = json.loads(retained(mosquitto.port, f"{BASE}/snapshot"))
        assert [x["waiting"] for x in last["lines"]] == [0, 0, 0, 0]
        assert [x["name"] for x in last["lines"]] == ["商事登记", "社保医保", "不动产登记", "综合受理"]
        # every finished visit prompted its window's pad: same case id and ticket
        by_case = {e["case_id"]: e for e in events if e["type"] == "finished"}
        ratings = [ln.json for ln in lines if "/rating/" in ln.topic and ln.topic.endswith("/event")]
        assert len(ratings) == len(by_case) == finished
        rated = [r for r in ratings if r["type"] == "rated"]
        assert len(rated) > 0.8 * finished and len({r["case_id"] for r in rated}) == len(rated)
        for r in rated:
            visit = by_case[r["case_id"]]
            assert (r["ticket"], r["window"], r["staff_id"]) == (visit["ticket"], visit["window"], visit["staff_id"])
        finished_at = Counter((e["window"], e["ticket"]) for e in by_case.values())
        assert Counter((r["window"], r["ticket"]) for r in ratings) == finished_at
        assert not [ln for ln in lines if ln.topic.endswith("/heartbeat") and "/queue/" in ln.topic]

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_a_scaled_day_takes_its_day_time_over_the_speed(mosquitto: Mosquitto) -> None:
    async def scenario(watch: MqttWatcher) -> None:
        sim = hall(mosquitto, 3, 30, 40_000.0)
        q: QueueSystem = sim.device("q-1")
        start = min(q.config.issue_from_s, q.plan.events[0].t)
        async with sim:
            await q.wait_day(timeout=30)
            await watch.wait(on(f"{BASE}/event"), count=len(q.plan.events))
        # never faster than day time / speed (a lower bound by design, whatever the machine's load)
        assert q.play_took >= (q.plan.ends_s - start) / 40_000 > 0.5
        stamps = [ln.json["ts"] for ln in watch.matching(on(f"{BASE}/event"))]
        assert stamps == sorted(stamps) and stamps[0] > "2026-12-07T08:30"

    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(scenario(watch))


def test_a_day_started_at_noon_publishes_from_noon_and_counts_the_morning_in_its_snapshot(
    mosquitto: Mosquitto,
) -> None:
    async def scenario(watch: MqttWatcher) -> None:
        sim = hall(mosquitto, 6, 400, "full", start="12:00")
        q: QueueSystem = sim.device("q-1")
        async with sim:
            await q.wait_day(timeout=60)
            afternoon = [e for e in q.plan.events if e.t >= 12 * 3600]
            await watch.wait(on(f"{BASE}/event"), count=len(afternoon))
        lines = watch.matching(lambda ln: ln.topic.startswith(BASE))
        events = [ln.json for ln in lines if ln.topic.endswith("/event")]
        assert len(events) == len(afternoon) < len(q.plan.events)
        assert min(e["ts"] for e in events) >= "2026-12-07T12:00:00.000+08:00"
        issued = {e["ticket"] for e in events if e["type"] == "issued"}
        assert any(e["type"] == "called" and e["ticket"] not in issued for e in events)  # issued before noon
        first = next(ln.json for ln in lines if ln.topic.endswith("/snapshot"))  # at the connect
        morning = [e.fields for e in q.plan.events if e.t < 12 * 3600]
        assert {x["line"]: x["waiting"] for x in first["lines"]} == {x: waiting_from(morning)[x] for x in "ABCD"}

    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(scenario(watch))


def test_a_looping_server_starts_its_day_over_the_same_day_and_keeps_its_lines_alive(mosquitto: Mosquitto) -> None:
    """The demo's server (`loop: true`): when the day is over it starts it over at once, the same
    day, tickets from A001 again, seq going on; its snapshots move again from the morning."""

    async def scenario(watch: MqttWatcher) -> None:
        sim = hall(mosquitto, 3, 40, "full", loop=True)
        q: QueueSystem = sim.device("q-1")
        first_day = len(q.plan.events)
        async with sim:
            await asyncio.wait_for(q.day_done.wait(), 60)  # the first day (the full-speed outbox never empties)
            await until(lambda: q.rounds >= 3, what="a third round")  # bounded by until's deadline
            # A001 of the second round: its first event may be another line's ticket
            await watch.wait(on(f"{BASE}/event", type="issued", ticket="A001"), count=2)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(events))), "seq goes on over the rounds"
        a001 = [i for i, e in enumerate(events) if e["type"] == "issued" and e["ticket"] == "A001"]
        assert len(a001) >= 2 and a001[0] < first_day <= a001[1], "A001 again after the first day"
        assert all(e["ts"].startswith("2026-12-07") for e in events)  # the same day (a date was given)
        assert events[a001[1]]["ts"] < max(e["ts"] for e in events[:first_day]), "the day starts over in the morning"
        snaps = [ln.json["ts"] for ln in watch.matching(on(f"{BASE}/snapshot"))]
        assert any(b < a for a, b in itertools.pairwise(snaps)), "the snapshots begin again too"

    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(scenario(watch))


def paused_queue(broker: Mosquitto) -> HallSimulator:
    """A queue whose day does not move on its own (day time at 1/1000 of real time): the test
    plays its events with the `backlog` fault, which queues the next events of the day at once."""
    return hall(broker, 5, 200, 0.001)


def test_duplicated_day_restarts_the_ticket_numbers_after_a_reconnect(mosquitto: Mosquitto) -> None:
    async def scenario(watch: MqttWatcher) -> None:
        sim = paused_queue(mosquitto)
        q: QueueSystem = sim.device("q-1")
        async with sim:
            await sim.wait_online()
            sim.inject("backlog:device=q-1,events=300")
            await q.wait_sent()
            assert sim.inject({"fault": "duplicated_day", "device": "q-1"}) == ["q-1"]
            await watch.wait(on(f"{BASE}/status", state="offline"))  # the restart: the will
            await watch.wait(on(f"{BASE}/status", state="online"), count=2)
            sim.inject("backlog:device=q-1,events=300")
            await q.wait_sent()
            await watch.wait(on(f"{BASE}/event"), count=600)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + 600)), "seq goes on over the restart"
        issued = Counter(e["ticket"] for e in events if e["type"] == "issued")
        assert issued["A001"] == 2 and issued["B001"] == 2
        first, second = [i for i, e in enumerate(events) if e["type"] == "issued" and e["ticket"] == "A001"]
        assert first < 300 <= second
        assert events[first]["ts"] < events[second]["ts"]  # the same day, later

    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(scenario(watch))


def test_a_replayed_range_repeats_seqs_and_a_clock_jump_shifts_ts(mosquitto: Mosquitto) -> None:
    async def scenario(watch: MqttWatcher) -> None:
        sim = paused_queue(mosquitto)
        q: QueueSystem = sim.device("q-1")
        async with sim:
            await sim.wait_online()
            sim.inject("backlog:device=q-1,events=50")
            await watch.wait(on(f"{BASE}/event"), count=50)
            await q.wait_sent()  # acknowledged: the device remembers them as sent
            sim.inject("offline:device=q-1")
            await watch.wait(on(f"{BASE}/status", state="offline"))  # the will: the link is down
            sim.inject("backlog:device=q-1,events=10,repeat=20")  # stored while offline
            sim.inject("clear:device=q-1")
            await watch.wait(on(f"{BASE}/event"), count=80)
            sim.inject("clock_drift:device=q-1,offset_s=3600")
            sim.inject("backlog:device=q-1,events=5")
            await watch.wait(on(f"{BASE}/event"), count=85)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        seqs = [e["seq"] for e in events]
        s0 = seqs[0]
        assert seqs[:50] == list(range(s0, s0 + 50))
        assert seqs[50:80] == list(range(s0 + 30, s0 + 60)), "the last 20 again, then 10 new"
        assert events[50:70] == events[30:50], "a replayed range is the same events"
        midnight = datetime(2026, 12, 7, tzinfo=CST)
        planned = [e.t for e in q.plan.events[60:65]]
        for e, t in zip(events[80:85], planned, strict=True):
            assert e["ts"] == (midnight + timedelta(seconds=t + 3600)).isoformat(timespec="milliseconds")

    with MqttWatcher(mosquitto.port, f"{BASE}/#") as watch:
        asyncio.run(scenario(watch))


def test_hallgate_sim_queue_plays_a_day_and_stops(mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]) -> None:
    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        argv = ["queue", "--site", SITE, "--full-speed", "--windows", "4", "--tickets", "80", "--pads"]
        argv += ["--broker", f"127.0.0.1:{mosquitto.port}", "--stateless", "--status-s", "0", "--no-control"]
        argv += ["--date", "2026-12-07", "--seed", "7"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "排队叫号: 2026-12-07 4 个窗口, 80 张票" in out and "一天已播完 (day_done): q-1" in out
        planned = HallSimulator(
            {
                "site": SITE,
                "devices": [{"id": "q-1", "kind": "queue", "sim": {"windows": 4, "tickets": 80, "date": "2026-12-07"}}],
            },
            seed="7",
            state_dir=None,
        ).device("q-1")
        # The broker acknowledged every event before the command returned; the subscriber may
        # still be receiving the last of them.
        wanted = len(planned.plan.events)
        events = asyncio.run(watch.wait(on(f"{BASE}/event"), count=wanted, timeout=60))
        assert [_fields(ln) for ln in events] == [_without_case(e.fields) for e in planned.plan.events]
        finished = sum(1 for ln in events if ln.json["type"] == "finished")
        rated = lambda ln: "/rating/" in ln.topic and ln.topic.endswith("/event")  # noqa: E731
        assert len(asyncio.run(watch.wait(rated, count=finished, timeout=60))) == finished


def _fields(line: Line) -> dict[str, Any]:
    data = line.json
    return _without_case({k: v for k, v in data.items() if k not in ("seq", "ts")})


def _without_case(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != "case_id"}  # case numbers start from the clock


def test_wrong_command_line_values_are_refused_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["queue", "--speed", "0"])
    assert exit_.value.code == 2 and "应为正数 (not_positive)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["queue", "--date", "2026-13-40"])
    assert "YYYY-MM-DD (bad_date)" in capsys.readouterr().err
    assert main(["queue", "--windows", "0", "--stateless"]) == 2
    assert "--windows 应为 1-999 (bad_windows)" in capsys.readouterr().err


def test_seq_survives_a_restart_of_the_queue_server(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def run_once(events: int) -> None:
        sim = {"windows": 3, "tickets": 50, "speed": 0.001, "date": "2026-12-07"}
        hall_ = HallSimulator(
            {"site": SITE, "devices": [{"id": "q-1", "kind": "queue", "sim": sim}]},
            mqtt=MqttSettings(port=mosquitto.port),
            state_dir=tmp_path,
        )
        async with hall_:
            await hall_.wait_online()
            hall_.inject(f"backlog:device=q-1,events={events}")
            await hall_.device("q-1").wait_sent()

    with MqttWatcher(mosquitto.port, f"{BASE}/event") as watch:
        asyncio.run(run_once(10))
        asyncio.run(run_once(5))
        seqs = [ln.json["seq"] for ln in asyncio.run(watch.wait(on(f"{BASE}/event"), count=15))]
    assert seqs == list(range(15))
    assert (tmp_path / SITE / "q-1" / "seq.json").exists()
