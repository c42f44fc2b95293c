"""Counter simulators on real pymodbus servers -> the gateway -> occupancy API, stream, alerts,
history; a wrap, a reboot, a sensor fault, a restart and a nightly reset."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.hall import HallSimulator
from gateway.config.load import load_config
from gateway.domain.occupancy import MINUTE_NS, WRAP, Bucket
from gateway.ingest.hub import POLL_FLUSH_S
from gateway.kinds.people_counter import bucket_line
from gateway.runtime import start_gateway
from tests.servers import InfluxDB, free_port
from tests.waits import until

TOKEN = "occupancy-manager-token"
POLL_S = 0.1


def hall_yaml(tmp_path: Path, ports: tuple[int, int, int], reset_at: str | None, influx: str = "") -> Path:
    reset = f'"{reset_at}"' if reset_at else "null"
    text = f"""
site: occ
timezone: UTC
working_hours: {{days: []}}   # never open: any reset time is allowed
zones: [{{id: consult, name: 咨询服务区, capacity: 10}}, {{id: windows, capacity: 50}}]
occupancy: {{reset_at: {reset}, stale_after_s: 1.0}}
alerts: {{clear_after_s: 0}}
api: {{port: {ports[0]}, tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]}}
store: {{path: {tmp_path}/outbox.sqlite}}
{influx}
devices:
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: {POLL_S},
      modbus: {{host: 127.0.0.1, port: {ports[1]}, unit: 1}}, sim: {{uptime_start_s: 1000}}}}
  - {{id: pc-inner, kind: people_counter, profile: ref-people-counter, zone: windows, from_zone: consult,
      poll_interval_s: {POLL_S}, modbus: {{host: 127.0.0.1, port: {ports[2]}, unit: 1, framer: rtu}}}}
"""
    path = tmp_path / "hall.yaml"
    path.write_text(text)
    return path


def test_occupancy_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    asyncio.run(_end_to_end(tmp_path))


async def _end_to_end(tmp_path: Path) -> None:
    ports = (free_port(), free_port(), free_port())
    path = hall_yaml(tmp_path, ports, None)
    sim = HallSimulator(path, rate_per_min=0, seed=1)
    base = f"http://127.0.0.1:{ports[0]}/api/v1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with sim, httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as http:
        door, inner = sim.device("pc-door"), sim.device("pc-inner")

        async def zone(zid: str = "consult") -> dict[str, Any]:
            return {z["zone"]: z for z in (await http.get("/occupancy")).json()}[zid]

        async def alerts() -> set[tuple[str, str]]:
            return {(a["rule"], a["key"]) for a in (await http.get("/alerts", params={"state": "active"})).json()}

        async with start_gateway(load_config(path)) as gw:
            await until(lambda: all(gw.view.device(d).online for d in ("pc-door", "pc-inner")), what="online")  # type: ignore[union-attr]
            await until(lambda: not any(z.suspect for z in gw.view.zones()), what="fresh samples")
            events: list[tuple[float, list[dict[str, Any]]]] = []
            reader = asyncio.create_task(_read_stream(http, events))
            await until(lambda: events, what="the stream's first snapshot")
            assert {z["zone"] for z in events[0][1]} == {"consult", "windows", "*"}

            # People come in: the stream hears it within one poll period (plus the hub's batching).
            # Not across a minute boundary: the sample that closes a minute also commits every
            # zone's finished minute (one more outbox transaction, an fsync on a busy disk) in the
            # same flush, before the stream can run. The bound is the same; only that instant,
            # whose cost is the disk's, is kept out of the measurement.
            await _clear_of_minute_boundary(gw, POLL_S + POLL_FLUSH_S + 0.2 + 0.5)
            added = time.monotonic()
            door.add(10, 0)
            await until(lambda: any(z["zone"] == "consult" and z["occupancy"] == 10 for _, b in events for z in b))
            heard = next(t for t, b in events if any(z["zone"] == "consult" and z["occupancy"] == 10 for z in b))
            # One poll period, plus the hub's batching of poll results (POLL_FLUSH_S).
            assert heard - added < POLL_S + POLL_FLUSH_S + 0.2, heard - added
            c = await zone()
            assert (c["occupancy"], c["over_capacity"], c["percent"]) == (10, True, 100.0)
            assert ("zone_over_capacity", "consult") in await until(alerts, what="over-capacity alert")
            hall = (await http.get("/occupancy/hall")).json()
            assert (hall["zone"], hall["scope"], hall["occupancy"], hall["capacity"]) == ("*", "hall", 10, 60)

            # A wrap: the counter jumps near 2^32 (only the baseline moves), then passes it.
            door.set_counts(WRAP - 2, WRAP - 2)
            await until(lambda: gw.view.occupancy.occupancy.doorways["pc-door"].last.in_total == WRAP - 2)  # type: ignore[union-attr]
            door.add(3, 4)  # out wraps too
            await until(lambda: _occ(gw) == 9, what="occupancy 9 after the wrap")
            c = await zone()
            assert (c["entered"], c["left"], c["over_capacity"]) == (13, 4, True)  # 9 >= 90 %: still over
            door.add(0, 1)
            await until(lambda: _occ(gw) == 8)
            await until(
                lambda: _without(alerts, ("zone_over_capacity", "consult")), what="over-capacity alert resolved"
            )
            assert not (await zone())["over_capacity"]  # below 90 %: cleared

            # A reboot: counts and uptime restart from 0; what came since counts.
            door.reboot()
            door.add(2, 0)
            await until(lambda: _occ(gw) == 10, what="occupancy 10 after the reboot")

            # More out than in: floored at 0, and the drift is visible.
            door.add(0, 13)
            await until(lambda: _occ(gw) == 0)
            c = await zone()
            assert (c["net"], c["drift"]["clamped"]) == (-3, 3)

            # A blocked lens makes both zones of the inner doorway suspect, and says why.
            inner.block_lens()
            c = await until(lambda: _suspect(http, "windows"), what="windows suspect")
            assert c["suspect_reasons"] == ["pc-inner: lens_blocked"]
            assert (await zone())["suspect"]
            assert ("occupancy_suspect", "windows") in await until(alerts, what="suspect alert")
            inner.clear_fault()
            await until(lambda: not gw.view.zones()[1].suspect, what="windows trusted again")
            # A silent counter (its line down) is suspect too.
            await sim.buses[1].stop()
            c = await until(lambda: _suspect(http, "windows"), what="silent counter suspect")
            assert c["suspect_reasons"] == ["pc-inner: no samples"]
            await sim.buses[1].start()
            door.add(4, 0)
            await until(lambda: _occ(gw) == 4)
            reader_events = len(events)
        # The gateway stopped: the stream ended by itself, without being cancelled.
        await asyncio.wait_for(reader, 5)
        assert reader.result() == "ended" and reader_events >= 5

        # A restart, with the nightly reset due in two seconds (and the history of before).
        started = datetime.now(UTC)
        reset_at = (started + timedelta(seconds=3)).strftime("%H:%M:%S")
        path = hall_yaml(tmp_path, ports, reset_at)
        async with start_gateway(load_config(path)) as gw:
            assert _occ(gw) == 4  # carried on from the saved state
            await until(lambda: _occ(gw) == 0 and gw.view.zones()[0].residual == 4, timeout=10, what="reset")
            c = await zone()
            assert (c["entered"], c["left"], c["drift"]["residual"], c["drift"]["residual_clamped"]) == (0, 0, 4, 3)
            assert c["drift"]["last_reset_at"].endswith(f"T{reset_at}.000+00:00")
            door.add(1, 0)
            await until(lambda: _occ(gw) == 1, what="counting again after the reset")
            r = await http.get(
                "/occupancy/history",
                params={"zone": "consult", "step": "minute", "start": (started - timedelta(minutes=5)).isoformat()},
            )
            h = r.json()
            assert r.status_code == 200 and h["source"] == "gateway", h
            assert sum(p["entered"] for p in h["points"]) == 10 + 3 + 2 + 4 + 1
            assert sum(p["left"] for p in h["points"]) == 4 + 1 + 13
            day = (await http.get("/occupancy/history", params={"zone": "consult", "step": "day"})).json()
            assert sum(p["entered"] for p in day["points"]) == 20
            bad = await http.get("/occupancy/history", params={"zone": "nowhere"})
            assert (bad.status_code, bad.json()["error"]) == (422, "invalid_request")


async def _clear_of_minute_boundary(gw: Any, needed_s: float) -> None:
    """At once if the next minute starts more than needed_s from now; else once the gateway has
    applied that minute's first sample (the one that closes, and commits, the last minute)."""
    now = time.time_ns()
    boundary = now - now % MINUTE_NS + MINUTE_NS
    if boundary - now < needed_s * 1e9:
        occupancy = gw.view.occupancy.occupancy
        await until(lambda: occupancy.minute_ns >= boundary, timeout=needed_s + 5, what="the next minute's samples")


async def _read_stream(http: httpx.AsyncClient, out: list[tuple[float, list[dict[str, Any]]]]) -> str:
    async with http.stream("GET", "/occupancy/stream", timeout=None) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                out.append((time.monotonic(), json.loads(line[6:])))
    return "ended"


async def _without(alerts: Any, key: tuple[str, str]) -> bool:
    return key not in await alerts()


def _occ(gw: Any, zid: str = "consult") -> int:
    return {z.zone: z.occupancy for z in gw.view.zones()}[zid]


async def _suspect(http: httpx.AsyncClient, zid: str) -> dict[str, Any] | None:
    z = {z["zone"]: z for z in (await http.get("/occupancy")).json()}[zid]
    return z if z["suspect"] else None


def test_history_from_influxdb(influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    influxdb.create_database("hallgate")
    hour = 1_764_000_000 * 10**9 - 1_764_000_000 * 10**9 % (3600 * 10**9)
    lines = [
        bucket_line("occ", Bucket("consult", hour + m * 60 * 10**9, m, 1, 10 + m, 0))
        for m in range(90)  # 1.5 h
    ]
    body = "\n".join(lines + lines)  # written twice (a replay): the same points
    r = httpx.post(f"{influxdb.url}/write", params={"db": "hallgate"}, content=body)
    assert r.status_code == 204, r.text
    ports = (free_port(), free_port(), free_port())
    path = hall_yaml(tmp_path, ports, None, f'influx: {{api: v1, url: "{influxdb.url}", database: hallgate}}')
    asyncio.run(_influx_history(path, ports[0], hour))


async def _influx_history(path: Path, port: int, hour: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with start_gateway(load_config(path)), httpx.AsyncClient(headers=headers, timeout=10) as http:
        start = datetime.fromtimestamp(hour / 1e9, UTC)
        r = await http.get(
            f"http://127.0.0.1:{port}/api/v1/occupancy/history",
            params={
                "zone": "consult",
                "step": "hour",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=3)).isoformat(),
            },
        )
    h = r.json()
    assert r.status_code == 200 and h["source"] == "influxdb", h
    assert [(p["entered"], p["left"], p["occupancy"]) for p in h["points"]] == [
        (sum(range(60)), 60, 69),
        (sum(range(60, 90)), 30, 99),
    ]


def test_nightly_reset_writes_the_counters_reset_register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    asyncio.run(_counter_reset(tmp_path))


async def _counter_reset(tmp_path: Path) -> None:
    api, port = free_port(), free_port()
    # Due a few seconds after start: the gateway must see the zone before its reset time (a zone
    # never reset before starts counting from now), as a hall started in the afternoon would.
    reset_at = (datetime.now(UTC) + timedelta(seconds=4)).strftime("%H:%M:%S")
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: occ
timezone: UTC
working_hours: {{days: []}}
zones: [{{id: consult, capacity: 10, reset_counters: true}}, {{id: windows, capacity: 50}}]
occupancy: {{reset_at: "{reset_at}"}}
api: {{port: {api}, tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER}}]}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: {POLL_S},
      modbus: {{host: 127.0.0.1, port: {port}, unit: 1}}, sim: {{uptime_start_s: 500}}}}
""")
    sim = HallSimulator(path, rate_per_min=0, seed=3)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{api}/api/v1"
    async with sim, httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as http:
        door = sim.device("pc-door")
        door.set_counts(5000, 4990)  # a day's totals: the register write must bring them to 0
        async with start_gateway(load_config(path)) as gw:
            await until(lambda: gw.view.device("pc-door").online, what="online")  # type: ignore[union-attr]
            door.add(7, 2)
            await until(lambda: _occ(gw) == 5, what="occupancy 5")
            await until(lambda: gw.view.zones()[0].residual == 5, timeout=15, what="the nightly reset")
            await until(lambda: (door.count_in, door.count_out) == (0, 0), timeout=10, what="registers at 0")
            assert door.input_registers()[:4] == [0, 0, 0, 0]

            def audited() -> list[dict[str, Any]]:
                return [r for r in gw.view.journal.audit(device="pc-door") if r["action"] == "reset_counts"]

            rows = await until(audited, what="the audit record")
            assert [(r["actor"], r["role"], r["outcome"], r["reason"]) for r in rows] == [
                ("nightly reset", "system", "confirmed", "nightly reset of zone consult")
            ]
            r = await http.get("/audit", params={"device": "pc-door"})
            assert [a["action"] for a in r.json()] == ["reset_counts"], r.text
            # Counting carries on from 0: nothing lost or doubled, the drop read as the reset it
            # was (not a reboot: the uptime went on; not a wrap: no four billion people).
            door.add(3, 1)
            await until(lambda: _occ(gw) == 2, what="occupancy 2 after the counter's reset")
            c = gw.view.zones()[0]
            assert (c.entered, c.left, c.residual) == (3, 1, 5)
            assert gw.hub.health.devices["pc-door"].counters["reboots"] == 0
