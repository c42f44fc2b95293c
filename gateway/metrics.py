"""Prometheus metrics, read from the gateway's state at scrape time (nothing to keep in step)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from typing import Any

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.runtime import Gateway


def _numbers(obj: Any) -> dict[str, Any]:
    data = asdict(obj) if is_dataclass(obj) else dict(obj)
    return {k: v for k, v in data.items() if isinstance(v, int | float | dict) and not isinstance(v, bool)}


class GatewayCollector:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def collect(self) -> Iterator[Metric]:
        gw = self.gw
        online = GaugeMetricFamily("hallgate_device_online", "1 when the device is online", labels=["device", "kind"])
        by_health: dict[str, int] = {"ok": 0, "degraded": 0, "offline": 0}
        for device_id, h in gw.hub.health.items():
            online.add_metric([device_id, h.kind], 1 if h.online else 0)
            by_health[h.health] += 1
        yield online
        health = GaugeMetricFamily("hallgate_devices", "devices by health", labels=["health"])
        for state, n in by_health.items():
            health.add_metric([state], n)
        yield health
        hub = CounterMetricFamily("hallgate_hub", "what the hub saw, by outcome", labels=["outcome"])
        for outcome, n in sorted(gw.hub.stats.items()):
            hub.add_metric([outcome], n)
        yield hub
        if gw.mqtt is not None:
            s = gw.mqtt.stats
            yield GaugeMetricFamily("hallgate_mqtt_connected", "1 while connected to the broker",
                                    value=1 if s.connected else 0)
            yield CounterMetricFamily("hallgate_mqtt_messages", "messages received", value=s.messages_in)
            yield CounterMetricFamily("hallgate_mqtt_connection_losses", "connections lost", value=s.connection_losses)
        req = CounterMetricFamily("hallgate_modbus_requests", "Modbus requests per line", labels=["line"])
        fail = CounterMetricFamily("hallgate_modbus_failures", "failed Modbus requests per line", labels=["line"])
        for name, line in gw.lines.items():
            req.add_metric([name], line.stats.requests)
            fail.add_metric([name], line.stats.failures)
        yield req
        yield fail
        zone = GaugeMetricFamily("hallgate_zone_occupancy", "people in the zone", labels=["zone"])
        for z in gw.hub.occupancy.zones.values():
            zone.add_metric([z.zone], z.occupancy)
        yield zone
        yield from _flat("hallgate_outbox", gw.outbox.stats())
        if gw.sink is not None:
            d = gw.drain
            yield CounterMetricFamily("hallgate_sink_delivered", "records written to the sink", value=d.delivered_total)
            yield CounterMetricFamily("hallgate_sink_rejected", "records the sink refused", value=d.rejected_total)
            yield GaugeMetricFamily("hallgate_sink_healthy", "1 when the last write succeeded",
                                    value=1 if d.healthy else 0)
            errors = CounterMetricFamily("hallgate_sink_errors", "failed writes by kind", labels=["kind"])
            for kind, n in d.errors_by_type.items():
                errors.add_metric([kind], n)
            yield errors


def _flat(prefix: str, stats: Any) -> Iterator[Metric]:
    for key, value in _numbers(stats).items():
        if isinstance(value, dict):
            m = GaugeMetricFamily(f"{prefix}_{key}", f"{prefix} {key}", labels=["key"])
            for k, v in value.items():
                if isinstance(v, int | float):
                    m.add_metric([str(k)], v)
            yield m
        else:
            yield GaugeMetricFamily(f"{prefix}_{key}", f"{prefix} {key}", value=value)


def registry_for(gw: Gateway) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gw))  # type: ignore[arg-type]
    return registry
