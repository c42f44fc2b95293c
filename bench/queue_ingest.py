"""bench queue's second part: the queue server's messages through a real Mosquitto into `hallgate run`,
its ingest rate, and the month's summary over HTTP (bench/queue.py says what and why)."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import servers
from bench.ingest import _baseline, _scrape
from bench.queue import DEVICE, FIRST_DAY, MONTH, TICKETS_A_DAY, TOKEN, Message
from bench.rawhttp import KeepAlive
from tests.servers import GatewayProcess, InfluxDB, Mosquitto


class QueueGateway(GatewayProcess):
    """`hallgate run` on a hall of one queue server (its visits in the state database)."""

    def __init__(self, folder: Path, broker: Mosquitto, influx: InfluxDB, site: str, database: str) -> None:
        super().__init__(folder, broker, influx, site=site, database=database, flush_interval_s=1.0)
        self.topic = f"hall/{site}/queue/{DEVICE}/event"
        self.config.write_text(f"""
site: {site}
timezone: Asia/Shanghai
api: {{port: {self.api_port}, tokens: [{{role: manager, env: BENCH_QUEUE_TOKEN}}]}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite, flush_interval_s: 1.0}}
influx: {{api: v1, url: "{influx.url}", database: {database}}}
devices:
  - {{id: {DEVICE}, kind: queue, profile: ref-queue}}
""")


def prepublish(broker: Mosquitto, topic: str, payloads: list[bytes], client_id: str) -> float:
    """Every payload published with QoS 1 and acknowledged by the broker: seconds taken."""
    acked = [0]
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = lambda *_: acked.__setitem__(0, acked[0] + 1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    t = time.perf_counter()
    try:
        for i, payload in enumerate(payloads):
            client.publish(topic, payload, qos=1)
            while i - acked[0] > 5000:
                time.sleep(0.001)
        deadline = time.monotonic() + 120 + len(payloads) / 500
        while acked[0] < len(payloads):
            if time.monotonic() > deadline:
                raise AssertionError(f"publisher: {acked[0]} of {len(payloads)} acknowledged")
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()
    return time.perf_counter() - t


def timed_drain(gw: QueueGateway, n_events: int, visits: int, timeout: float) -> tuple[float, float, float]:
    """The gateway started on its queued events: (ingest events/s from its /metrics, from the first
    message seen until all committed; seconds until the summary counts every visit; CPU per event us)."""
    proc = gw.spawn()
    ps = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    first: tuple[float, float, float] | None = None
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway: not done after {timeout} s: {gw.log.read_text()[-2000:]}")
            gw.check_alive()
            time.sleep(0.05 if first is None else 0.1)
            try:
                m = _scrape(http, f"{gw.api_url}/metrics")
            except httpx.HTTPError:
                continue
            t, c = time.perf_counter(), ps.cpu_times()
            events = m.get('hallgate_hub_messages_total{outcome="events"}', 0.0)
            if first is None:
                if events:
                    first = (t, events, c.user + c.system)
                continue
            if events >= n_events:
                break
        t0, e0, cpu0 = first
        rate, cpu_us = (n_events - e0) / (t - t0), 1e6 * (c.user + c.system - cpu0) / (n_events - e0)
        period = {"start": MONTH[0], "end": f"{FIRST_DAY + timedelta(days=visits // TICKETS_A_DAY + 1)}"}
        while http.get(f"{gw.api_url}/api/v1/queue/summary", params=period).json()["total"]["issued"] < visits:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway: the summary does not count every visit")
            time.sleep(0.1)
        return rate, time.perf_counter() - t0, cpu_us


def summary_http(gw: QueueGateway, visits: int, repeats: int = 7) -> dict[str, list[float]]:
    """`GET /api/v1/queue/summary` for November by line and by window over a kept-alive connection,
    in ms: the first request of each (`cold`: nothing of the month read yet), then `repeats` more."""
    http = KeepAlive(gw.api_port, {"Authorization": f"Bearer {TOKEN}"})
    out: dict[str, list[float]] = {}
    for by in ("line", "window"):
        path = f"/api/v1/queue/summary?start={MONTH[0]}&end={MONTH[1]}&by={by}"
        for i in range(repeats + 1):
            t = time.perf_counter()
            status, body = http.get(path)
            took = (time.perf_counter() - t) * 1000
            assert status == 200 and json.loads(body)["total"]["issued"] == min(visits, 30 * TICKETS_A_DAY), body[:300]
            out.setdefault(f"by {by}, first" if i == 0 else f"by {by}", []).append(took)
    http.sock.close()
    return out


def ingest(
    msgs: list[Message], visits: int, runs: int
) -> tuple[list[float], list[float], list[float], list[dict[str, Any]], dict[str, list[float]]]:
    """The messages through Mosquitto into the gateway, `runs` times, and the bare subscriber."""
    os.environ["BENCH_QUEUE_TOKEN"] = TOKEN
    payloads = [json.dumps(m.payload, ensure_ascii=False).encode() for m in msgs]
    rates, cpu_us, base = [], [], []
    http: dict[str, list[float]] = {}
    with servers("bench-queue-") as (root, broker, influx):
        for r in range(runs):
            folder = root / f"run{r}"
            folder.mkdir()
            influx.create_database(f"queue{r}")
            gw = QueueGateway(folder, broker, influx, f"benchq{r}", f"queue{r}")
            try:
                gw.start()
                time.sleep(0.5)  # SUBACK well past
                gw.stop()
                _baseline("setup", broker.port, f"bench-queue-base-{r}", topic=gw.topic)
                pub_s = prepublish(broker, gw.topic, payloads, f"bench-queue-pub-{r}")
                print(f"  run {r}: {len(payloads):,} messages queued in {pub_s:.1f} s", file=sys.stderr, flush=True)
                rate, until_s, us = timed_drain(gw, len(payloads), visits, timeout=600 + len(payloads) / 200)
                rates.append(rate)
                cpu_us.append(us)
                print(f"  run {r} gateway: {rate:,.0f} events/s committed, CPU {us:.0f} us an event, summary "
                      f"counts every visit {until_s:.1f} s after the first", file=sys.stderr, flush=True)  # fmt: skip
                for k, v in summary_http(gw, visits).items():
                    http.setdefault(k, []).extend(v)
                gw.stop()  # a restart: the days' figures kept in the state database, none in memory
                gw.start()
                for k, v in summary_http(gw, visits, repeats=0).items():
                    http.setdefault(f"{k} after a restart", []).extend(v)
            finally:
                gw.stop()
            b = _baseline("drain", broker.port, f"bench-queue-base-{r}", count=len(payloads), timeout=900)
            if b["received"] != len(payloads) or b["bad_json"]:
                raise AssertionError(f"baseline: {b}")
            base.append(b)
            print(f"  run {r} baseline: {b['rate']:,.0f} msg/s", file=sys.stderr, flush=True)
    return rates, cpu_us, [b["rate"] for b in base], base, http
