"""The transports a hall's configuration asks for: the MQTT link's options and the InfluxDB sink.

Shared by the gateway (gateway/runtime.py) and its ingest workers (gateway/ingest/worker.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
from typing import Any

from drivers.mqtt.options import MqttOptions, Will
from drivers.tls import TlsOptions, client_context
from gateway.config.base import secret
from gateway.config.hall import HallConfig
from gateway.config.store import Influx
from gateway.ingest.forward import worker_client_id, worker_username
from gateway.store.cursors import LOCAL
from gateway.store.district import DistrictSink
from gateway.store.drain import DrainStats, drain
from gateway.store.outbox import Outbox
from gateway.store.pace import TokenBucket
from gateway.store.sinks import InfluxV1Sink, InfluxV2Sink, Sink
from gateway.store.vouch import Vouch

DISTRICT = "district"  # the district store's cursor in the outbox


def status_topic(cfg: HallConfig) -> str:
    """The gateway's own retained status, and its will."""
    return f"hall/{cfg.site}/gateway/status"


def alerts_topic(cfg: HallConfig) -> str:
    """Each alert change, and the retained summary of the open ones."""
    return f"hall/{cfg.site}/gateway/alerts"


def make_sink(cfg: Influx) -> Sink | None:
    if cfg.api == "v1":
        return InfluxV1Sink(cfg.url, cfg.database, cfg.retention_policy, cfg.username, secret(cfg.password_env))
    if cfg.api == "v2":
        assert cfg.org and cfg.bucket
        return InfluxV2Sink(cfg.url, cfg.org, cfg.bucket, secret(cfg.token_env) or "")
    return None


def mqtt_options(cfg: HallConfig) -> MqttOptions:
    b = cfg.broker
    return MqttOptions(
        host=b.host,
        port=b.port,
        client_id=cfg.client_id,
        protocol=b.protocol,
        username=b.username,
        password=secret(b.password_env),
        keepalive_s=b.keepalive_s,
        receive_maximum=b.receive_maximum,
        will=Will(status_topic(cfg), json.dumps({"state": "offline"}).encode()),
        tls=TlsOptions(**b.tls.model_dump()) if b.tls else None,
    )


def worker_mqtt_options(cfg: HallConfig, index: int) -> MqttOptions:
    """An ingest worker's: its own client id and broker user, no will (the gateway's status is the gateway's)."""
    return dataclasses.replace(
        mqtt_options(cfg), client_id=worker_client_id(cfg, index), username=worker_username(cfg, index), will=None
    )


def make_district_sink(cfg: HallConfig) -> DistrictSink | None:
    """The district store's sink, or None when the hall forwards to none."""
    d = cfg.district
    if d.url is None:
        return None
    verify: ssl.SSLContext | bool = True
    if d.tls is not None:
        verify = client_context(TlsOptions(**d.tls.model_dump()))
    inner = InfluxV1Sink(
        d.url,
        d.database if d.api == "influx_v1" else None,
        None,
        d.username,
        secret(d.password_env),
        timeout_s=d.timeout_s,
        create_database=d.api == "influx_v1",
        verify=verify,
    )
    vouch = Vouch(d.max_future_s, d.max_age_days * 86400, d.clock_tolerance_s)
    return DistrictSink(inner, d.site_label or cfg.site, vouch)


def district_drain(outbox: Outbox, sink: DistrictSink, cfg: HallConfig, stop: asyncio.Event, stats: DrainStats) -> Any:
    """The district's forwarder: its own cursor, at most the catch-up rate, a jittered start."""
    d = cfg.district
    return drain(
        outbox.cursor(DISTRICT),
        sink,
        batch_size=d.batch_size,
        max_wait_s=cfg.store.flush_interval_s,
        stop=stop,
        stats=stats,
        limiter=TokenBucket(d.catch_up_rate, d.rate_burst),
        start_jitter_s=d.start_jitter_s,
    )


def outbox_cursors(cfg: HallConfig) -> tuple[str, ...]:
    """The sinks an outbox of this hall feeds (a sink not configured holds nothing back)."""
    local = (LOCAL,) if cfg.influx.api != "none" or cfg.district.url is None else ()
    return (*local, DISTRICT) if cfg.district.url is not None else local
