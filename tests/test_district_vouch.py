"""The district forwarder sends only the points it vouches for (gateway/store/vouch.py): a point
stamped too far ahead of the site's clock or older than the district's retention stays home,
counted by reason; a site clock off the district store's (its `Date` header) says so in /readyz.
The rules with a fake clock; the forwarding with a real gateway, InfluxDB and victoria-metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.readiness import CLOCK_OFF_CODE, district_readiness
from gateway.store.district import DistrictSink
from gateway.store.drain import DrainStats
from gateway.store.outbox import OutboxStats
from gateway.store.sinks import InfluxV1Sink
from gateway.store.vouch import Vouch
from tests.servers import GatewayProcess, InfluxDB, Mosquitto, VictoriaMetrics
from tests.test_district import metric, wait_until

S = 10**9
NOW = 1_796_000_000 * S


def vouch() -> Vouch:
    return Vouch(max_future_s=300, max_age_s=31 * 86400, tolerance_s=120)


def test_points_too_far_ahead_or_too_old_or_without_time_are_counted_not_kept() -> None:
    v = vouch()
    lines = [
        f"m,site=a v=1 {NOW}",
        f"m,site=a v=2 {NOW + 300 * S}",  # at the bound: kept
        f"m,site=a v=3 {NOW + 301 * S}",
        f"m,site=a v=4 {NOW - 31 * 86400 * S}",  # at the bound: kept
        f"m,site=a v=5 {NOW - 31 * 86400 * S - 1}",
        'm,site=a text="a b c 12"',  # no timestamp (a string field's words are not one)
    ]
    assert v.sort(lines, NOW, mono=lambda: 0.0) == [lines[0], lines[1], lines[3]]
    assert v.refused == {"future": 1, "too_old": 1, "no_timestamp": 1}


def test_refusals_are_logged_once_a_minute_per_reason_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    v, t = vouch(), [0.0]
    caplog.set_level(logging.WARNING, "gateway.store.vouch")
    ahead = [f"m v=1 {NOW + 3600 * S}"] * 4
    for at in (0.0, 10.0, 59.0, 61.0):
        t[0] = at
        v.sort(ahead, NOW, mono=lambda: t[0])
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "district: 4 points not forwarded (future: stamped ahead of this site's clock by more than "
        "district.max_future_s); 4 in all since start",
        "district: 12 points not forwarded (future: stamped ahead of this site's clock by more than "
        "district.max_future_s); 16 in all since start",
    ]


def test_a_site_clock_hours_off_the_district_store_says_clock_off_in_readiness() -> None:
    v = vouch()
    ours = 1_796_000_000.0
    v.saw_date("Mon, 07 Dec 2026 02:00:00 GMT", ours)  # sets an offset
    theirs = datetime(2026, 12, 7, 2, 0, tzinfo=UTC).timestamp()
    assert v.clock_offset_s == round(theirs - ours, 1)
    v.saw_date("Mon, 07 Dec 2026 02:00:00 GMT", theirs + 3 * 3600)  # we run three hours ahead
    d, o = DrainStats(healthy=True), OutboxStats(0, 0, 0, {}, {}, None, 0, 0, {}, False)
    detail = district_readiness(d, "http://vm", o, v)
    assert detail["state"] == "clock_off" and detail["code"] == CLOCK_OFF_CODE
    assert detail["clock_offset_s"] == -10800.0 and "+10800 秒" in detail["message"]
    v.saw_date("Mon, 07 Dec 2026 02:00:00 GMT", theirs + 100)  # within the tolerance
    assert district_readiness(d, "http://vm", o, v)["state"] == "forwarding"


def test_the_district_stores_date_header_gives_the_offset(victoria_metrics: VictoriaMetrics) -> None:
    async def write() -> Vouch:
        sink = DistrictSink(InfluxV1Sink(victoria_metrics.url, None, create_database=False), "a", vouch())
        try:
            await sink.write([f"clock_probe v=1 {time.time_ns()}"])
        finally:
            await sink.close()
        return sink.vouch

    v = asyncio.run(write())
    # The same machine's clock: within the header's one-second rounding and the request's time.
    assert v.clock_offset_s is not None and abs(v.clock_offset_s) <= 2 and not v.clock_off


# ---- the forwarder of a real gateway


@pytest.fixture
def site(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> Iterator[GatewayProcess]:
    extra = f'district: {{url: "{victoria_metrics.url}", site_label: town-07, start_jitter_s: 0}}\n'
    gw = GatewayProcess(tmp_path, mosquitto, influxdb, extra=extra)
    gw.start()
    yield gw
    gw.stop()


def rated(seq: int, ts_s: float) -> bytes:
    ts = datetime.fromtimestamp(ts_s, UTC).isoformat(timespec="milliseconds")
    return json.dumps(
        {"seq": seq, "ts": ts, "type": "rated", "case_id": f"c-{seq}", "window": "W07", "score": 5, "reasons": []}
    ).encode()


def test_the_gateway_forwards_only_what_it_vouches_for_and_counts_the_rest(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    now = time.time()
    stamps = [now - 5, now - 4, now - 3, now + 3600, now + 7200, now - 40 * 86400, now - 60 * 86400]
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="pad-rp-1", protocol=paho.MQTTv5)
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    try:
        for seq, ts in enumerate(stamps, 1):
            c.publish(site.topic, rated(seq, ts), qos=1).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()
    assert influxdb.wait_count("hallgate", "rating_pad_event", len(stamps)) == len(stamps)  # all kept at home
    wait_until(
        "every point either forwarded or refused",
        lambda: (
            metric(site, "hallgate_outbox_sink_pending_records", "district") == 0
            and victoria_metrics.count("rating_pad_event", "seq") == 3
        ),
    )
    text = httpx.get(f"{site.api_url}/metrics", timeout=10).text
    assert 'hallgate_district_refused_points_total{reason="future"} 2.0' in text
    assert 'hallgate_district_refused_points_total{reason="too_old"} 2.0' in text
    series = victoria_metrics.export('{__name__="rating_pad_event_seq"}')
    assert sorted(v for s in series for v in s["values"]) == [1, 2, 3]
    detail = httpx.get(f"{site.api_url}/readyz", timeout=10).json()["detail"]["district"]
    assert detail["refused_points"] == {"future": 2, "too_old": 2} and detail["clock_ok"] is True
    assert detail["state"] == "forwarding"
