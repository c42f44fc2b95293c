"""A kind's families on /metrics come from its own declaration (`Kind.metrics`), read from the
registry at scrape time: gateway/metrics.py names no kind. A kind registered at run time shows its
families (promtool still passes), and the zones' families leave with the people counter's."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import httpx
from prometheus_client.core import GaugeMetricFamily, Metric

from gateway.config.load import load_config
from gateway.kinds.base import Kind
from gateway.kinds.registry import KINDS, register
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port


class SiteReads(Protocol):
    @property
    def site(self) -> str: ...


def lamp_metrics(reads: SiteReads) -> Iterator[Metric]:
    lamps = GaugeMetricFamily("hallgate_desk_lamp_halls", "halls with desk lamps", labels=["site"])
    lamps.add_metric([reads.site], 1)
    yield lamps


LAMP = Kind(name="desk_lamp", description="desk lamp (台灯)", metrics=lamp_metrics)


def test_kinds_families_come_from_the_registry(mosquitto: Mosquitto, tmp_path: Path) -> None:
    before, with_lamp, without_counter = asyncio.run(_scrapes(_hall(tmp_path, mosquitto)))

    assert "hallgate_desk_lamp_halls" not in before
    assert 'hallgate_desk_lamp_halls{site="kmetrics"} 1.0' in with_lamp
    assert _promtool_problems(with_lamp) == ""

    # The hall has no counter, yet the zones' families are there: a kind's families do not depend
    # on the hall's devices. They are the people counter's: without its declaration they are gone.
    for family in ("hallgate_zone_occupancy_people", "hallgate_zone_capacity_people"):
        assert f'{family}{{zone="consult"}}' in before
        assert family not in without_counter
    assert "hallgate_outbox_records" in without_counter  # the gateway's own families stay


def _hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    """A hall with zones but no counter, and one device of another kind."""
    path = tmp_path / "hall.yaml"
    path.write_text(
        f"site: kmetrics\nzones: [{{id: consult, capacity: 50}}]\napi: {{port: {free_port()}}}\n"
        f"broker: {{host: 127.0.0.1, port: {mosquitto.port}}}\nstore: {{path: {tmp_path}/outbox.sqlite}}\n"
        "devices: [{id: rp-w01, kind: rating_pad, profile: ref-rating-pad, window: W01}]\n"
    )
    return path


def _promtool_problems(text: str) -> str:
    """What `promtool check metrics` says of the text, "" when it passes."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package prometheus (.ci/setup does)"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    return "" if result.returncode == 0 else result.stdout + result.stderr or f"exit {result.returncode}"


async def _scrapes(hall: Path) -> tuple[str, str, str]:
    cfg = load_config(hall)
    counter = KINDS["people_counter"]
    async with start_gateway(cfg), httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}") as http:

        async def scrape() -> str:
            r = await http.get("/metrics")
            assert r.status_code == 200
            return r.text

        before = await scrape()
        register(LAMP)
        try:
            with_lamp = await scrape()
        finally:
            del KINDS[LAMP.name]
        KINDS[counter.name] = replace(counter, metrics=None)
        try:
            without_counter = await scrape()
        finally:
            KINDS[counter.name] = counter
    return before, with_lamp, without_counter
