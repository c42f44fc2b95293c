"""Forwarding to the district store (issue 25), with real processes: Mosquitto, InfluxDB, a real
`victoria-metrics` and `hallgate run` as a child. The district store has its own cursor in the
site's outbox: its outage, a SIGKILL during its backlog and a full outbox are each checked by
exact counts in both stores."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.demo_support import running_demo
from tests.load import Publisher
from tests.pki import make_pki
from tests.servers import GatewayProcess, InfluxDB, Mosquitto, VictoriaMetrics

MEASUREMENT, FIELD = "rating_pad_event", "seq"
SITE_LABEL = "town-07"


def district_yaml(vm: VictoriaMetrics, **more: object) -> str:
    # max_age_days: tests.load stamps its events on a fixed day, older than a month from some day on.
    settings = {"url": f'"{vm.url}"', "api": "victoriametrics", "site_label": SITE_LABEL, "start_jitter_s": 0}
    settings |= {"max_age_days": 36500, **more}
    return "district: {" + ", ".join(f"{k}: {v}" for k, v in settings.items()) + "}\n"


@pytest.fixture
def site(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics, request
) -> Iterator[GatewayProcess]:
    options = getattr(request, "param", {})
    gw = GatewayProcess(
        tmp_path,
        mosquitto,
        influxdb,
        extra=district_yaml(victoria_metrics, **options.get("district", {})),
        max_bytes=options.get("max_bytes"),
        workers=options.get("workers", 1),
    )
    gw.start()
    yield gw
    gw.stop()


def publish(gw: GatewayProcess, mosquitto: Mosquitto, n: int, first: int = 0) -> None:
    """n QoS 1 rating events, each acknowledged by the gateway (committed to its outbox)."""
    pub = Publisher(mosquitto.host, mosquitto.port, gw.topic, n, first=first).start()
    try:
        pub.wait_acked(n, timeout=120)
    finally:
        pub.close()


def readyz(gw: GatewayProcess) -> httpx.Response:
    return httpx.get(f"{gw.api_url}/readyz", timeout=10)


def metric(gw: GatewayProcess, name: str, sink: str | None = None) -> float:
    text = httpx.get(f"{gw.api_url}/metrics", timeout=10).text
    labels = "" if sink is None else f'{{sink="{sink}"}}'
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert m is not None, f"{name}{labels} not in /metrics"
    return float(m.group(1))


def wait_until(what: str, check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def test_series_reach_the_district_with_the_site_label_and_the_local_influxdb(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    n = 2000
    publish(site, mosquitto, n)
    assert influxdb.wait_count("hallgate", MEASUREMENT, n) == n
    assert victoria_metrics.wait_count(MEASUREMENT, FIELD, n) == n
    series = victoria_metrics.export(f'{{__name__="{MEASUREMENT}_{FIELD}"}}')
    assert {s["metric"]["site"] for s in series} == {SITE_LABEL}  # the district's label, not the hall's "dur"
    assert {s["metric"]["device"] for s in series} == {"rp-1"}
    detail = readyz(site).json()["detail"]["district"]
    assert detail["state"] == "forwarding", detail


def test_district_outage_local_flows_on_and_every_acknowledged_point_arrives_once(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    n = 4000
    publish(site, mosquitto, n // 4)
    assert victoria_metrics.wait_count(MEASUREMENT, FIELD, n // 4) == n // 4
    victoria_metrics.stop()  # really stopped: its process is gone
    publish(site, mosquitto, n - n // 4, first=n // 4)
    # The local store has everything while the district is still down.
    assert influxdb.wait_count("hallgate", MEASUREMENT, n) == n
    wait_until(
        "the district shown unreachable", lambda: readyz(site).json()["detail"]["district"]["state"] == "unreachable"
    )
    during = readyz(site)
    assert during.status_code == 200, during.json()  # the site works without the district
    assert during.json()["detail"]["district"]["pending_records"] >= n - n // 4
    assert metric(site, "hallgate_district_up") == 0
    assert metric(site, "hallgate_outbox_sink_pending_records", "local") == 0
    victoria_metrics.start()
    # Exactly n: the batch in flight when it stopped is sent again, and VictoriaMetrics
    # (-dedup.minScrapeInterval=1ms, tests/servers.py) keeps one sample per series and millisecond.
    assert victoria_metrics.wait_count(MEASUREMENT, FIELD, n) == n
    wait_until("the backlog drained", lambda: metric(site, "hallgate_outbox_sink_pending_records", "district") == 0)
    assert victoria_metrics.count(MEASUREMENT, FIELD) == n
    assert metric(site, "hallgate_outbox_sink_dropped_records_total", "district") == 0


def test_sigkill_during_a_district_backlog_loses_nothing(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    n = 3000
    victoria_metrics.stop()
    publish(site, mosquitto, n)
    assert influxdb.wait_count("hallgate", MEASUREMENT, n) == n  # the local sink passed them all
    site.kill()  # SIGKILL with the whole district backlog in the outbox
    site.start()
    victoria_metrics.start()
    assert victoria_metrics.wait_count(MEASUREMENT, FIELD, n) == n
    assert influxdb.count("hallgate", MEASUREMENT, FIELD) == n


@pytest.mark.parametrize("site", [{"workers": 2}], indirect=True)
def test_ingest_workers_outboxes_forward_to_the_district_too(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    n = 3000
    victoria_metrics.stop()
    publish(site, mosquitto, n)  # shared between the two workers, each with its outbox and cursors
    assert influxdb.wait_count("hallgate", MEASUREMENT, n) == n
    victoria_metrics.start()
    assert victoria_metrics.wait_count(MEASUREMENT, FIELD, n) == n


def test_https_with_the_district_ca_forwards_and_another_ca_is_refused(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    pki = make_pki(tmp_path / "pki")
    (tmp_path / "vm").mkdir()
    vm = VictoriaMetrics(tmp_path / "vm", pki=pki)
    vm.start()
    sites = []
    try:
        for name, ca in (("good", pki.ca), ("bad", pki.other_ca)):
            (tmp_path / name).mkdir()
            yaml = district_yaml(vm, site_label=name, tls=f"{{ca_file: {ca}}}")
            gw = GatewayProcess(tmp_path / name, mosquitto, influxdb, site=name, database=name, extra=yaml)
            sites.append(gw)
            gw.start()
            publish(gw, mosquitto, 200)
        assert vm.wait_count(MEASUREMENT, FIELD, 200) == 200
        wait_until(
            "the wrong CA shown", lambda: readyz(sites[1]).json()["detail"]["district"]["state"] == "unreachable"
        )
        assert "CERTIFICATE_VERIFY_FAILED" in readyz(sites[1]).json()["detail"]["district"]["last_error"]
        assert {s["metric"]["site"] for s in vm.export(f'{{__name__="{MEASUREMENT}_{FIELD}"}}')} == {"good"}
    finally:
        for gw in sites:
            gw.stop()
        vm.stop()


BUDGET = 300_000  # bytes; a phase of PHASE events is far below a third of it (about 250 bytes a line)
PHASE = 300


@pytest.mark.parametrize("site", [{"max_bytes": BUDGET}], indirect=True)
def test_a_district_held_back_is_evicted_with_counted_drops_and_the_local_sink_keeps_everything(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    victoria_metrics.stop()
    phases = 12
    for i in range(phases):
        # Each phase waits for the local sink, so what the local sink has not had is at most one
        # phase: the oldest records, which a full outbox evicts first, are the district's alone.
        publish(site, mosquitto, PHASE, first=i * PHASE)
        assert influxdb.wait_count("hallgate", MEASUREMENT, (i + 1) * PHASE) == (i + 1) * PHASE
    n = phases * PHASE
    dropped = metric(site, "hallgate_outbox_sink_dropped_records_total", "district")
    assert dropped > 0
    assert metric(site, "hallgate_outbox_sink_dropped_records_total", "local") == 0
    assert metric(site, "hallgate_outbox_sink_pending_records", "district") * 200 < BUDGET
    victoria_metrics.start()
    wait_until("the backlog drained", lambda: metric(site, "hallgate_outbox_sink_pending_records", "district") == 0)
    got = victoria_metrics.count(MEASUREMENT, FIELD)
    # What the district lacks is what it was told it lost (drops count every class; the
    # events are most of them).
    assert 0 < got < n
    assert got + dropped >= n
    assert influxdb.count("hallgate", MEASUREMENT, FIELD) == n


RATE, BURST = 400, 100


@pytest.mark.parametrize(
    "site", [{"district": {"catch_up_rate": RATE, "burst": BURST, "batch_size": BURST}}], indirect=True
)
def test_the_catch_up_never_goes_faster_than_the_configured_rate(
    site: GatewayProcess, mosquitto: Mosquitto, influxdb: InfluxDB, victoria_metrics: VictoriaMetrics
) -> None:
    n = 3000  # 7.5 s at the rate; sent unpaced it takes well under a second
    victoria_metrics.stop()
    publish(site, mosquitto, n)
    assert influxdb.wait_count("hallgate", MEASUREMENT, n) == n
    restarted = time.monotonic()
    victoria_metrics.start()
    samples: list[tuple[float, float, int]] = []  # (asked at, answered at, points stored)
    deadline = time.monotonic() + 180
    while not samples or samples[-1][2] < n:
        assert time.monotonic() < deadline, samples[-5:]
        before = time.monotonic()
        got = victoria_metrics.count(MEASUREMENT, FIELD)
        samples.append((before, time.monotonic(), got))
    # The bucket grants at most BURST + RATE * t points in any t seconds; one batch (BURST points)
    # may have been granted before the earlier sample and stored after it. Only an upper bound:
    # a slow machine sends slower, never faster.
    for i, (asked_i, _, got_i) in enumerate(samples):
        for _, answered_j, got_j in samples[i + 1 :]:
            allowed = 2 * BURST + RATE * (answered_j - asked_i)
            assert got_j - got_i <= allowed, (got_j - got_i, allowed, answered_j - asked_i)
    # All n were written after the restart: at that pace that takes at least this long.
    assert samples[-1][1] - restarted >= (n - 2 * BURST) / RATE


def test_the_demo_forwards_to_the_district_store_it_is_pointed_at(
    tmp_path: Path, victoria_metrics: VictoriaMetrics
) -> None:
    hallgate = Path(sys.executable).with_name("hallgate")
    with running_demo(hallgate, tmp_path, args=("--district", victoria_metrics.url)) as demo:
        line = next(x for x in demo.banner if "district" in x)
        assert victoria_metrics.url in line
        site_label = line.rsplit("site=", 1)[1].rstrip(")\n")
        wait_until(
            "the demo's series in the district store",
            lambda: victoria_metrics.export(f'{{site="{site_label}"}}') != [],
            timeout=60,
        )
        code, _ = demo.stop()
        assert code == 0
