"""A device kind declares its own stores (`Kind.stores`): the gateway migrates every registered
kind's in the state database when it starts, a kind the hall has no device of included, so the
day such a device is added its tables are there, made the same way."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config.hall import HallConfig
from gateway.config.load import load_config
from gateway.kinds.base import KeepsRecords, Kind
from gateway.kinds.registry import KINDS, register, stores
from gateway.runtime import start_gateway
from gateway.store.journal import REPOSITORIES
from gateway.store.repository import Repository
from tests.servers import free_port


class Visits(Repository):
    name = "visits"
    migrations = (
        "CREATE TABLE visits (device TEXT NOT NULL, ts_ns INTEGER NOT NULL, PRIMARY KEY (device, ts_ns));",
        "ALTER TABLE visits ADD COLUMN zone TEXT;",
    )


VISIT_COUNTER = Kind(name="visit_counter", description="visit counter", stores=(Visits,))


@pytest.fixture
def visit_counter() -> Iterator[Kind]:
    register(VISIT_COUNTER)
    yield VISIT_COUNTER
    del KINDS[VISIT_COUNTER.name]


def test_the_kinds_stores_are_theirs_and_the_projections_that_use_them_say_so() -> None:
    owned = {s.name: kind.name for kind in KINDS.values() for s in kind.stores}
    assert owned == {"ratings": "rating_pad", "punches": "attendance", "queue_visits": "queue"}
    assert not {r.name for r in REPOSITORIES} & owned.keys()  # the Journal's own list names none of them
    hall = HallConfig.model_validate({"site": "t", "timezone": "Asia/Shanghai"})
    projections = [factory(hall, {}) for kind in KINDS.values() for factory in kind.projections]
    keeps = {p.name for p in projections if isinstance(p, KeepsRecords)}
    assert keeps == {"ratings", "attendance", "queue"} and len(projections) > len(keeps)


def test_every_registered_kinds_stores_are_migrated_when_the_gateway_starts(
    visit_counter: Kind, tmp_path: Path
) -> None:
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"site: s1\napi: {{port: {free_port()}}}\nstore: {{path: {tmp_path}/outbox.sqlite}}\n")
    cfg = load_config(hall)  # no device at all: no kind of the hall's asks for a store

    async def run() -> None:
        async with start_gateway(cfg):
            pass

    asyncio.run(run())
    assert [s.name for s in stores()][-1] == "visits"
    with sqlite3.connect(cfg.store.state_file) as db:
        versions = dict(db.execute("SELECT name, version FROM schema_versions"))
        columns = [row[1] for row in db.execute("PRAGMA table_info(visits)")]
        level = db.execute("PRAGMA user_version").fetchone()[0]
    assert {name: versions.get(name) for name in ("ratings", "punches", "visits")} == {
        "ratings": 3,  # its steps since: the call-back's satisfaction, workorders_overdue_told (the feed)
        "punches": 1,
        "visits": 2,
    }
    assert columns == ["device", "ts_ns", "zone"]
    assert level == 7  # the built-in kinds' tables are there: an older gateway opens the file as ever
