"""What publishes under the hall's topics without being configured, said as what it is (issue 19):
an unknown channel of a configured device is that device's (counted per channel, in its detail
and the quarantine), not an unconfigured device; the unknown-device list keeps the most recently
seen (bounded), with counts, last seen, and how many it let go. Real Mosquitto, the gateway."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.mqtt.options import Message
from gateway.config.load import load_config
from gateway.devices import load_hall
from gateway.domain.recent import Recent
from gateway.ingest.decode import Ingress
from gateway.ingest.hub import UNKNOWN_LIMIT, UNKNOWN_LOGGED_PER_MIN
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.waits import until

TOKEN = "unknowns-technician-token-0123456789"
FLOOD = 5000
HEARTBEAT = b'{"ts":"2026-11-23T09:15:02+08:00","uptime_s":5,"rssi":-60}'
EVENT = b'{"seq":1,"ts":"2026-11-23T09:15:02.120+08:00","type":"rated","window":"W01","score":5}'


def test_recent_keeps_the_newest_and_counts_what_it_let_go() -> None:
    r: Recent[str, list[int]] = Recent(3)
    for key in "abcd":
        r.seen(key, list)[0].append(1)
    assert "a" not in r and r.evicted == 1
    r.seen("b", list)[0].append(2)  # seen again: now the newest, so "c" goes next
    value, new = r.seen("e", list)
    assert (new, r.evicted, "c" in r) == (True, 2, False)
    assert [v for v in r.newest_first()] == [value, [1, 2], [1]]
    assert len(r) == 3


def _hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: unk
api: {{port: {free_port()}, tokens: [{{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}]}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
""")
    return path


def _flood(mosquitto: Mosquitto, topics: list[str], payload: bytes = EVENT) -> None:
    """One client, QoS 1, in order; returns once the broker acknowledged every message."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="hostile-flood")
    client.max_inflight_messages_set(1000)
    acked = threading.Semaphore(0)
    client.on_publish = lambda *_: acked.release()
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        for t in topics:
            client.publish(t, payload, qos=1)
        for _ in topics:
            assert acked.acquire(timeout=30)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_flood_of_invented_devices_keeps_the_newest_and_an_unknown_channel_is_the_devices(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_TECHNICIAN", TOKEN)
    started = time.monotonic()
    asyncio.run(_unknowns(_hall(tmp_path, mosquitto), mosquitto))
    # The flood named a few in the log and counted the rest: at most 5 names and a count a minute.
    lines = [r for r in caplog.records if r.name == "gateway.ingest.hub" and "not configured" in r.getMessage()]
    minutes = int((time.monotonic() - started) // 60) + 1
    assert 1 <= len(lines) <= (UNKNOWN_LOGGED_PER_MIN + 1) * minutes, len(lines)


async def _unknowns(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with start_gateway(cfg):
        http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{cfg.api.port}/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}
        )

        async def get(url: str, **params: Any) -> Any:
            r = await http.get(url, params=params)
            assert r.status_code == 200, r.text
            return r

        async def metrics() -> str:
            return (await http.get(f"http://127.0.0.1:{cfg.api.port}/metrics")).text

        async def counted(outcome: str, n: int) -> bool:
            return f'hallgate_hub_messages_total{{outcome="{outcome}"}} {n}.0' in await metrics()

        async def subscribed() -> bool:
            _flood(mosquitto, ["hall/unk/rating/rp-w01/heartbeat"], HEARTBEAT)
            return (await get("/devices/rp-w01")).json()["last_seen"] is not None

        await until(subscribed, what="the gateway subscribed (the pad's heartbeat seen)")

        # A configured pad on a channel its profile does not know: its own, counted per channel.
        _flood(mosquitto, ["hall/unk/rating/rp-w01/bogus"] * 2 + ["hall/unk/rating/rp-w01/other"])
        detail = await until(lambda: _channels(get, 2), what="the unknown channels in the device's detail")
        assert [(c["channel"], c["messages"]) for c in detail["unknown_channels"]] == [("other", 1), ("bogus", 2)]
        assert detail["counters"]["quarantined_unknown_channel"] == 3
        q = (await get("/quarantine", device="rp-w01")).json()
        assert {(x["reason"], x["topic"]) for x in q} == {
            ("unknown_channel", "hall/unk/rating/rp-w01/bogus"),
            ("unknown_channel", "hall/unk/rating/rp-w01/other"),
        }
        assert (await get("/devices/unknown")).json() == []  # not an unconfigured device

        # 5,000 invented device ids, one message each, in order: the newest 1,000 are listed.
        _flood(mosquitto, [f"hall/unk/rating/fake-{n:04d}/event" for n in range(FLOOD)])
        await until(lambda: counted("unknown_topic", FLOOD), what="every invented message counted")
        r = await get("/devices/unknown")
        listed = [u["topic"] for u in r.json()]
        assert len(listed) == UNKNOWN_LIMIT
        assert listed[0] == f"hall/unk/rating/fake-{FLOOD - 1:04d}"  # newest first
        assert set(listed) == {f"hall/unk/rating/fake-{n:04d}" for n in range(FLOOD - UNKNOWN_LIMIT, FLOOD)}
        assert r.headers["X-Unknown-Evicted"] == str(FLOOD - UNKNOWN_LIMIT)
        assert all(u["messages"] == 1 and u["last_seen"] for u in r.json())
        assert f'hallgate_unknown_evicted_total{{what="device"}} {FLOOD - UNKNOWN_LIMIT}.0' in await metrics()

        # One seen again is the newest again, with its count.
        _flood(mosquitto, [f"hall/unk/rating/fake-{FLOOD - UNKNOWN_LIMIT:04d}/heartbeat"])
        again = await until(lambda: _first_is(get, f"hall/unk/rating/fake-{FLOOD - UNKNOWN_LIMIT:04d}"), what="newest")
        assert again["messages"] == 2 and again["last_topic"].endswith("/heartbeat")
        await http.aclose()


async def _channels(get: Any, n: int) -> dict[str, Any] | None:
    d = (await get("/devices/rp-w01")).json()
    return d if len(d["unknown_channels"]) == n and sum(c["messages"] for c in d["unknown_channels"]) == 3 else None


async def _first_is(get: Any, topic: str) -> dict[str, Any] | None:
    first = (await get("/devices/unknown")).json()[0]
    return first if first["topic"] == topic else None


def test_an_unknown_channel_is_the_devices_whether_the_topic_or_the_payload_names_it(tmp_path: Path) -> None:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: unk
profiles_dirs: [{Path(__file__).parent / "profile_cases" / "profiles"}]
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: bc-1, kind: rating_pad, profile: beacon-rating, window: W02}}
""")
    _, devices = load_hall(path)
    ingress = Ingress("unk", devices)
    out = ingress.decode(
        [
            Message("hall/unk/rating/rp-w01/bogus", EVENT, 1, False, 1, 0),
            Message("beacon/unk/dev/bc-1/up", b'{"msgType": "bogus", "time": 1732324502120}', 1, False, 2, 0),
            Message("hall/unk/rating/rp-w99/event", EVENT, 1, False, 3, 0),
        ],
        1,
    )
    assert out.unknown_channels == [
        ("rp-w01", "bogus", "hall/unk/rating/rp-w01/bogus"),
        ("bc-1", "bogus", "beacon/unk/dev/bc-1/up"),
    ]
    assert [(q.device, q.reason) for q in out.bad] == [("rp-w01", "unknown_channel"), ("bc-1", "unknown_channel")]
    assert out.unknown == ["hall/unk/rating/rp-w99/event"]  # only the device nobody configured
