"""The transports a hall's configuration asks for: the MQTT link's options and the InfluxDB sink.

Shared by the gateway (gateway/runtime.py) and its ingest workers (gateway/ingest/worker.py).
"""

from __future__ import annotations

import dataclasses
import json

from drivers.mqtt.options import MqttOptions, Will
from drivers.tls import TlsOptions
from gateway.config.base import secret
from gateway.config.hall import HallConfig
from gateway.config.store import Influx
from gateway.ingest.forward import worker_client_id, worker_username
from gateway.store.sinks import InfluxV1Sink, InfluxV2Sink, Sink


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
