"""A batch's records (ratings, punches) are in the state database before the batch is
acknowledged: a gateway killed right after its PUBACK has them (the same guarantee the ingest
workers get from their forward table, tests/test_worker_durability.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from drivers.mqtt.options import Message
from gateway.devices import load_hall
from gateway.health import HealthBook
from gateway.ingest.hub import Hub
from gateway.kinds.registry import KINDS, stores
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox

SITE = "ack-hall"


def rated(seq: int) -> bytes:
    return json.dumps(
        {
            "seq": seq,
            "ts": "2026-12-07T10:00:00.000+08:00",
            "type": "rated",
            "case_id": f"320111-2026-{seq:07d}",
            "window": "W07",
            "staff_id": "S0231",
            "ticket": f"A{seq:03d}",
            "item": "社保卡补办",
            "score": 5,
            "reasons": [],
        }
    ).encode()


def test_the_records_of_a_batch_are_committed_before_ingest_returns(tmp_path: Path) -> None:
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W07}}
""")
    cfg, devices = load_hall(hall)
    journal = Journal(cfg.store.state_file, stores=stores())
    outbox = Outbox(cfg.store.path)
    projections = [factory(cfg, devices) for factory in KINDS["rating_pad"].projections]
    closes = [p.attach(journal) for p in projections if hasattr(p, "attach")]
    assert closes, "the rating pad's projection keeps records of its own"
    hub = Hub(SITE, devices, outbox, HealthBook(devices, journal), projections, journal)
    topic = f"hall/{SITE}/rating/rp-1/event"
    messages = [Message(topic, rated(seq), 1, False, seq, 1) for seq in range(1, 51)]

    async def batch() -> int:
        # Inside a running loop, as in the gateway: anything merely scheduled for the loop's next
        # turn has not happened when ingest returns (the link acknowledges right then).
        hub.ingest_mqtt(messages)
        with sqlite3.connect(cfg.store.state_file) as other:
            return other.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]

    try:
        assert asyncio.run(batch()) == 50
    finally:
        for close in closes:
            close()
        journal.close()
        outbox.close()
