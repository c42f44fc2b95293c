"""/metrics as Prometheus's own tool reads it: `promtool check metrics` (Debian `prometheus`)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import httpx

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.waits import until


def test_metrics_pass_promtool_and_carry_per_device_figures(mosquitto: Mosquitto, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package prometheus (.ci/setup does)"
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: metrics
zones: [{{id: consult, capacity: 50}}]
api: {{port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
influx: {{api: v1, url: "http://127.0.0.1:{free_port()}", database: hallgate}}
devices:
  - {{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: consult, poll_interval_s: 0.1,
      modbus: {{host: 127.0.0.1, port: {free_port()}, unit: 1}}}}
""")
    text = asyncio.run(_scrape(hall, mosquitto))
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for sample in (
        'hallgate_device_battery_percent{device="rp-w01"}',
        'hallgate_device_rssi_dbm{device="rp-w01"}',
        'hallgate_device_poll_round_trip_seconds_bucket{device="pc-door",le="+Inf"} ',
        'hallgate_device_last_seen_timestamp_seconds{device="pc-door",kind="people_counter"}',
        "process_resident_memory_bytes",
        'hallgate_part_up{part="drain"} 1.0',
        'hallgate_zone_occupancy_people{zone="consult"}',
        "hallgate_state_db_writable 1.0",
        'hallgate_wal_checkpoints_held_back_total{file="outbox"} 0.0',
    ):
        assert sample in text, sample


async def _scrape(hall: Path, mosquitto: Mosquitto) -> str:
    cfg = load_config(hall)
    sim = HallSimulator(
        hall, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port), heartbeat_s=0.2, rate_per_min=0, seed=1
    )
    async with sim, start_gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:

        def seen() -> bool:
            detail = gw.view.device_detail("rp-w01")
            counter = gw.view.device_detail("pc-door")
            return bool(
                detail
                and "battery" in detail.info
                and counter
                and "poll_rtt_s" in counter.info
                and counter.device.last_seen_ns
            )

        await until(seen, what="a heartbeat with battery and an answered poll")
        r = await http.get("/metrics")
        assert r.status_code == 200
        return r.text
