"""One bad message never stops the hall: each is quarantined with its reason, acknowledged, and
the valid events sent right after it land in InfluxDB, typed. Real Mosquitto, real InfluxDB."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.load import Publisher
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.waits import until

TOKEN = "poison-technician-token-0123456789"
TS = "2026-11-23T09:15:02.120+08:00"
VALID_PER_PAD = 500

POISON = {
    # valid JSON holding a lone surrogate: UTF-8 cannot encode it
    "event": json.dumps({"seq": 1, "ts": TS, "type": "rated", "window": "W01", "item": "\ud800", "score": 5}),
    # nesting that blows the parser's recursion limit
    "deep": "[" * 10_000 + "]" * 10_000,
    # a score as a string would fix the field's type as string for the week's shard
    "typed": json.dumps({"seq": 3, "ts": TS, "type": "rated", "window": "W01", "score": "5"}),
}


def hall_yaml(tmp_path: Path, mosquitto: Mosquitto, influx: InfluxDB) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: poison
api: {{port: {free_port()}, tokens: [{{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}, protocol: 5}}
store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: v1, url: "{influx.url}", database: hallgate}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-w02, kind: rating_pad, profile: ref-rating-pad, window: W02}}
  - {{id: rp-w03, kind: rating_pad, profile: ref-rating-pad, window: W03}}
""")
    return path


def pub(mosquitto: Mosquitto, topic: str, payload: str, retain: bool = False) -> None:
    subprocess.run(
        [
            "mosquitto_pub",
            "-p",
            str(mosquitto.port),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
            *(["-r"] if retain else []),
        ],
        check=True,
    )


def test_poison_is_quarantined_and_valid_events_land_typed(
    mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_TECHNICIAN", TOKEN)
    asyncio.run(_poison(mosquitto, influxdb, hall_yaml(tmp_path, mosquitto, influxdb)))


async def _poison(mosquitto: Mosquitto, influxdb: InfluxDB, path: Path) -> None:
    cfg = load_config(path)
    # Retained: it comes again at every connect, so it must not stall a restart either.
    pub(mosquitto, "hall/poison/rating/rp-w01/status", '{"state":"online","fw":"\\udfff"}', retain=True)
    async with start_gateway(cfg) as gw:
        for payload in POISON.values():
            pub(mosquitto, "hall/poison/rating/rp-w01/event", payload)
        pub(mosquitto, "hall/poison/rating/rp-w99/status", '{"state":"online"}')  # not configured
        publishers = [
            Publisher(
                mosquitto.host,
                mosquitto.port,
                f"hall/poison/rating/rp-w0{n}/event",
                VALID_PER_PAD,
                client_id=f"pad-{n}",
            ).start()
            for n in (2, 3)
        ]
        try:
            await asyncio.to_thread(lambda: [p.wait_acked(VALID_PER_PAD, 60) for p in publishers])
        finally:
            for p in publishers:
                p.close()
        want = 2 * VALID_PER_PAD
        got = await asyncio.to_thread(influxdb.wait_count, "hallgate", "rating_pad_event", want, "seq", 180)
        assert got == 2 * VALID_PER_PAD
        fields = influxdb.query('SHOW FIELD KEYS FROM "rating_pad_event"', db="hallgate")["results"][0]
        assert ["score", "integer"] in fields["series"][0]["values"]

        base = f"http://127.0.0.1:{cfg.api.port}"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            rows: list[dict[str, Any]] = await until(lambda: _quarantined(http, 4), what="4 quarantined")
            assert {r["device"] for r in rows} == {"rp-w01"}
            assert sorted(r["topic"].rsplit("/", 1)[1] for r in rows) == ["event", "event", "event", "status"]
            assert all(r["reason"] and r["detail"] for r in rows)
            deep = next(r for r in rows if r["size"] == 20_000)
            assert deep["truncated"] and len(deep["payload"]) < deep["size"]
            metrics = (await http.get("/metrics")).text
            quarantined = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("hallgate_quarantined_messages_total{")
            )
            assert quarantined == 4
            r = await http.get("/readyz")
            assert r.status_code == 200, r.json()
            unknown = (await http.get("/api/v1/devices/unknown")).json()
            assert [(u["topic"], u["messages"]) for u in unknown] == [("hall/poison/rating/rp-w99", 1)]
            d = (await http.get("/api/v1/devices/rp-w01")).json()
            assert d["counters"]["bad_payloads"] == 4 and d["last_error"].startswith("bad payload")
        stats = gw.view.mqtt_stats()
        assert stats is not None and stats.connects == 1 and stats.batches_failed == 0

    # A restart gets the retained poison again: quarantined again, and the gateway is ready.
    async with (
        start_gateway(cfg) as gw,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http,
    ):
        await until(lambda: _quarantined(http, 5), what="the retained poison quarantined after the restart")
        r = await http.get("/readyz")
        assert r.status_code == 200, json.dumps(r.json())


async def _quarantined(http: httpx.AsyncClient, n: int) -> list[dict[str, Any]] | None:
    r = await http.get("/api/v1/quarantine")
    assert r.status_code == 200, r.text
    rows = r.json()
    return rows if len(rows) >= n else None
