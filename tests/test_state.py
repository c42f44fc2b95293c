"""The state database: versioned migrations, and what a restart must not reset (health history,
zone occupancy with its counter baselines). Real Modbus counters from the simulators."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from firmware_sim.hall import HallSimulator
from gateway.config.load import load_config
from gateway.kinds.registry import stores
from gateway.runtime import StartupError, start_gateway
from gateway.store.journal import MIGRATIONS, Journal, JournalError, Quarantined
from gateway.store.sqlite import transaction
from gateway.store.staged import connect
from gateway.store.wal import WAL_LIMIT_BYTES
from tests.servers import free_port
from tests.waits import until


def test_migrations_run_once_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    j = Journal(path, stores=stores())
    assert j.version == len(MIGRATIONS)
    j.add_transitions([("d1", 1, "ok", ""), ("d1", 2, "offline", "gone")])
    j.quarantine([Quarantined(3, "d1", "hall/x/rating/d1/event", "not_json", "payload is not JSON", b"x" * 10_000)])
    j.close()
    j = Journal(path)  # no migration runs twice (a second CREATE TABLE would raise)
    assert j.transitions("d1") == [(1, "ok", ""), (2, "offline", "gone")]
    [row] = j.quarantined()
    assert (row.reason, row.size, len(row.payload)) == ("not_json", 10_000, 4096)
    j.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(JournalError, match="newer than this gateway knows"):
        Journal(path)


def test_a_corrupt_state_database_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    j = Journal(path, stores=stores())
    assert j.set_aside is not None and j.set_aside.read_bytes().startswith(b"this is not")
    assert j.version == len(MIGRATIONS)
    j.close()


def test_store_folder_that_cannot_be_made_is_one_clear_startup_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"site: s1\napi: {{port: {free_port()}}}\nstore: {{path: {tmp_path}/a-file/outbox.sqlite}}\n")
    with pytest.raises(StartupError, match=r"store.path：无法创建目录 .*a-file.*HALLGATE_STORE__PATH"):
        asyncio.run(_enter(load_config(hall)))


async def _enter(cfg: object) -> None:
    async with start_gateway(cfg):  # type: ignore[arg-type]
        pass


def test_a_restart_keeps_occupancy_and_health_history(tmp_path: Path) -> None:
    port = free_port()
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: state
zones: [{{id: consult, capacity: 50}}]
api: {{port: {free_port()}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: 0.1,
      modbus: {{host: 127.0.0.1, port: {port}, unit: 1}}}}
""")
    asyncio.run(_restart(hall))


async def _restart(hall: Path) -> None:
    cfg = load_config(hall)
    sim = HallSimulator(hall, rate_per_min=0, seed=3)
    async with sim:
        async with start_gateway(cfg) as gw:
            await until(lambda: _device(gw, "pc-door").online, what="counter online")
            sim.device("pc-door").add(5, 1)
            await until(lambda: _zone(gw) == 4, what="occupancy 4")
            history = gw.view.device_detail("pc-door").history  # type: ignore[union-attr]
        # People keep walking while the gateway is down: counted once it is back.
        sim.device("pc-door").add(2, 0)
        async with start_gateway(cfg) as gw:
            detail = gw.view.device_detail("pc-door")
            assert detail is not None and detail.history[-len(history) :] == history
            assert _zone(gw) == 4  # restored before the first poll
            await until(lambda: _zone(gw) == 6, what="occupancy 6 after the restart")


def _device(gw: object, device_id: str):  # type: ignore[no-untyped-def]
    return gw.view.device(device_id)  # type: ignore[attr-defined]


def _zone(gw: object) -> int:
    return {z.zone: z.occupancy for z in gw.view.zones()}["consult"]  # type: ignore[attr-defined]


def test_the_state_database_wal_is_bounded_for_every_connection_that_writes_it(tmp_path: Path) -> None:
    """The journal and the records' own connections write one file: they share its WAL bound, so
    writes through either keep the WAL under WAL_LIMIT_BYTES plus one transaction (with SQLite's
    own autocheckpoint off, only that bound checkpoints)."""
    path = tmp_path / "state.sqlite"
    j = Journal(path, stores=stores())
    records = connect(path)
    assert records.file is j.file  # type: ignore[attr-defined]
    wal = path.with_name(path.name + "-wal")
    biggest = 0
    for i in range(400):  # 400 x 50 quarantined payloads of 4 KiB: 80 MB through the journal ...
        j.quarantine([Quarantined(i, "d1", "t", "not_json", "", bytes([i % 256]) * 4096) for _ in range(50)])
        with transaction(records) as c:  # ... and 400 commits through a records connection
            c.execute("INSERT OR IGNORE INTO rating_events (event, key, ts_ns) VALUES (?, 'k', ?)", (f"e{i}", i))
        biggest = max(biggest, wal.stat().st_size)
    records.close()
    j.close()
    one_transaction = 1024 * 1024  # 50 payloads of 4 KiB, each on pages of its own, and their index
    assert biggest <= WAL_LIMIT_BYTES + one_transaction, biggest
