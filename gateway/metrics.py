"""Prometheus metrics, read from the gateway's read model at scrape time (nothing to keep in step).

Names follow Prometheus conventions (checked with `promtool check metrics` in the tests):
counters end in `_total`, units are spelled out (`_seconds`, `_bytes`), and the process's own
figures come from prometheus_client's default process and platform collectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from gateway.kinds import registry as kinds
from gateway.store.outbox import OutboxStats
from gateway.store.vouch import REFUSALS
from gateway.view import View


class GatewayCollector:
    def __init__(self, view: View) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        v = self.view
        devices = v.list_devices()
        online = GaugeMetricFamily(
            "hallgate_device_online", "1 while the device is online, else 0", labels=["device", "kind"]
        )
        seen = GaugeMetricFamily(
            "hallgate_device_last_seen_timestamp_seconds",
            "when the gateway last heard from the device (Unix time)",
            labels=["device", "kind"],
        )
        by_health = dict.fromkeys(("ok", "degraded", "offline"), 0)
        for d in devices:
            online.add_metric([d.id, d.kind], 1 if d.online else 0)
            if d.last_seen_ns is not None:
                seen.add_metric([d.id, d.kind], d.last_seen_ns / 1e9)
            by_health[d.health] += 1
        yield online
        yield seen
        health = GaugeMetricFamily("hallgate_devices", "configured devices by health", labels=["health"])
        for state, n in by_health.items():
            health.add_metric([state], n)
        yield health

        battery = GaugeMetricFamily(
            "hallgate_device_battery_percent", "battery charge the device reported", labels=["device"]
        )
        rssi = GaugeMetricFamily(
            "hallgate_device_rssi_dbm", "radio signal strength the device reported", labels=["device"]
        )
        errors = CounterMetricFamily(
            "hallgate_device_errors",
            "errors per device by cause (poll_timeout, poll_exception, poll_no_connection, poll_io, "
            "quarantined_<reason>)",
            labels=["device", "cause"],
        )
        messages = CounterMetricFamily(
            "hallgate_device_messages", "events and readings the device delivered", labels=["device"]
        )
        reboots = CounterMetricFamily("hallgate_device_reboots", "reboots seen (uptime went down)", labels=["device"])
        for d in devices:
            detail = v.device_detail(d.id)
            assert detail is not None
            for family, key in ((battery, "battery"), (rssi, "rssi")):
                value = detail.info.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    family.add_metric([d.id], value)
            c = detail.counters
            messages.add_metric([d.id], c.get("events", 0))
            reboots.add_metric([d.id], c.get("reboots", 0))
            for cause, n in c.items():
                if cause.startswith(("poll_", "quarantined_")) and cause != "poll_errors":
                    errors.add_metric([d.id, cause], n)
        yield battery
        yield rssi
        yield messages
        yield reboots
        yield errors
        poll_rtt = HistogramMetricFamily(
            "hallgate_device_poll_round_trip_seconds",
            "round-trip time of the device's answered polls (the whole read plan, waiting for the line included)",
            labels=["device"],
        )
        for device, (buckets, total) in v.poll_round_trips().items():
            poll_rtt.add_metric([device], [(_le(le), n) for le, n in buckets], total)
        yield poll_rtt

        events = CounterMetricFamily("hallgate_hub_messages", "what the hub saw, by outcome", labels=["outcome"])
        for outcome, n in sorted(v.message_counts().items()):
            events.add_metric([outcome], n)
        yield events
        quarantined = CounterMetricFamily(
            "hallgate_quarantined_messages", "messages set aside as undecodable, by reason", labels=["reason"]
        )
        for reason, n in sorted(v.quarantine_counts().items()):
            quarantined.add_metric([reason], n)
        yield quarantined
        proj = CounterMetricFamily("hallgate_projection_errors", "events a projection failed on", labels=["projection"])
        for name, n in v.projection_errors().items():
            proj.add_metric([name], n)
        yield proj
        active = GaugeMetricFamily("hallgate_alerts_active", "open and acknowledged alerts", labels=["severity"])
        for severity, n in v.alerts.active_counts().items():
            active.add_metric([severity], n)
        yield active
        yield CounterMetricFamily(
            "hallgate_alert_evaluation_seconds",
            "time spent evaluating alert rules (their share of the gateway's CPU)",
            value=v.alerts.evaluation_s,
        )
        yield GaugeMetricFamily(
            "hallgate_unknown_devices",
            "devices publishing under the hall's topics that are not configured",
            value=len(v.unknown_devices()),
        )
        evicted = CounterMetricFamily(
            "hallgate_unknown_evicted",
            "unknown devices and unknown channels of configured devices let go (least recently seen) to make room",
            labels=["what"],
        )
        for what, n in v.unknown_evicted().items():
            evicted.add_metric([what], n)
        yield evicted

        parts_up = GaugeMetricFamily("hallgate_part_up", "1 while the supervised part runs", labels=["part"])
        restarts = CounterMetricFamily("hallgate_part_restarts", "restarts of a supervised part", labels=["part"])
        for part in v.parts():
            parts_up.add_metric([part.name], 1 if part.up else 0)
            restarts.add_metric([part.name], part.restarts)
        yield parts_up
        yield restarts

        stats = v.mqtt_stats()
        if stats is not None:
            yield GaugeMetricFamily(
                "hallgate_mqtt_connected", "1 while connected to the broker", value=1 if stats.connected else 0
            )
            yield CounterMetricFamily(
                "hallgate_mqtt_received_messages", "messages received from the broker", value=stats.messages_in
            )
            yield CounterMetricFamily(
                "hallgate_mqtt_connection_losses", "connections to the broker lost", value=stats.connection_losses
            )
            yield CounterMetricFamily(
                "hallgate_mqtt_batches_failed",
                "batches not stored: nothing acknowledged, redelivered after a reconnect",
                value=stats.batches_failed,
            )
        yield from _workers(v)
        req = CounterMetricFamily("hallgate_modbus_requests", "Modbus requests per line", labels=["line"])
        fail = CounterMetricFamily(
            "hallgate_modbus_failed_requests", "failed Modbus requests per line", labels=["line"]
        )
        rtt = GaugeMetricFamily(
            "hallgate_modbus_round_trip_seconds",
            "moving average round-trip time of successful requests",
            labels=["line"],
        )
        for name, s in v.line_stats().items():
            req.add_metric([name], s.requests)
            fail.add_metric([name], s.failures)
            if s.latency_ms is not None:
                rtt.add_metric([name], s.latency_ms / 1000)
        yield req
        yield fail
        yield rtt

        for kind_metrics in kinds.metrics():  # each kind's own families (gateway/kinds/<kind>/)
            yield from kind_metrics(v)

        o = v.outbox_stats()
        yield GaugeMetricFamily("hallgate_outbox_records", "records waiting in the outbox", value=o.depth_records)
        yield GaugeMetricFamily("hallgate_outbox_bytes", "bytes of records waiting in the outbox", value=o.depth_bytes)
        yield GaugeMetricFamily("hallgate_outbox_max_bytes", "the outbox's bound (store.max_bytes)", value=o.max_bytes)
        depth = GaugeMetricFamily("hallgate_outbox_class_records", "records waiting, by class", labels=["class"])
        dropped = CounterMetricFamily(
            "hallgate_outbox_dropped_by_class",
            "records dropped because the outbox was full, by class",
            labels=["class"],
        )
        for cls, n in o.depth_by_class.items():
            depth.add_metric([cls], n)
        for cls, n in o.dropped_by_class.items():
            dropped.add_metric([cls], n)
        yield depth
        yield dropped
        yield GaugeMetricFamily(
            "hallgate_outbox_oldest_age_seconds", "age of the oldest waiting record", value=o.oldest_age_s or 0.0
        )
        yield CounterMetricFamily(
            "hallgate_outbox_delivered_records", "records delivered to the sink", value=o.delivered_total
        )
        yield CounterMetricFamily(
            "hallgate_outbox_rejected_records", "records the sink refused as invalid", value=o.rejected_total
        )
        yield from _per_sink(v, o)
        yield GaugeMetricFamily(
            "hallgate_store_writable", "1 while the outbox accepts commits", value=1 if v.store_writable else 0
        )
        yield from _sqlite_files(v)
        if v.sink_name is not None:
            drain = v.drain
            yield CounterMetricFamily(
                "hallgate_sink_delivered_records",
                "records this process wrote to the sink (the outbox's counter spans restarts)",
                value=drain.delivered_total,
            )
            yield GaugeMetricFamily(
                "hallgate_sink_healthy", "1 when the last write to the sink succeeded", value=1 if drain.healthy else 0
            )
            errs = CounterMetricFamily("hallgate_sink_errors", "failed writes to the sink, by kind", labels=["kind"])
            for kind, n in drain.errors_by_type.items():
                errs.add_metric([kind], n)
            yield errs


def _sqlite_files(v: View) -> Iterator[Metric]:
    state = v.journal.file.writes
    yield GaugeMetricFamily(
        "hallgate_state_db_writable", "1 while the state database can be written", value=0 if state.down else 1
    )
    yield CounterMetricFamily(
        "hallgate_state_db_failed_writes", "writes the state database refused (full disk, I/O error)",
        value=state.failures_total,
    )  # fmt: skip
    made = CounterMetricFamily(
        "hallgate_wal_writer_checkpoints",
        "checkpoints a writer made itself because the WAL was past its bound (the event loop waited for them)",
        labels=["file"],
    )
    held = CounterMetricFamily(
        "hallgate_wal_checkpoints_held_back",
        "checkpoints a writer made past the WAL's bound that could not complete (a reader's snapshot, a full disk)",
        labels=["file"],
    )
    for name, file in (("outbox", v.outbox.file), ("state", v.journal.file)):
        made.add_metric([name], file.wal.checkpoints)
        held.add_metric([name], file.wal.held_back)
    yield made
    yield held


def _workers(v: View) -> Iterator[Metric]:
    """Ingest workers (ingest.workers > 1), from each one's last report."""
    if not v.workers:
        return
    label = ["worker"]
    connected = GaugeMetricFamily("hallgate_ingest_worker_connected", "1 while connected to the broker", labels=label)
    received = CounterMetricFamily(
        "hallgate_ingest_worker_received_messages", "messages received since the worker started", labels=label
    )
    forwarded = CounterMetricFamily(
        "hallgate_ingest_worker_forwarded_events", "events the worker committed and handed to the gateway", labels=label
    )
    dropped = CounterMetricFamily(
        "hallgate_ingest_worker_forward_dropped_events",
        "events committed but not kept for the gateway's records: its forward table was full",
        labels=label,
    )
    backlog = GaugeMetricFamily("hallgate_ingest_worker_outbox_records", "records waiting in its outbox", labels=label)
    for i, w in v.workers.items():
        st, key = w.status, [str(i)]
        forwarded.add_metric(key, w.events)
        if not st:
            continue
        connected.add_metric(key, 1 if w.running and st["mqtt"]["connected"] else 0)
        received.add_metric(key, st["mqtt"]["messages_in"])
        dropped.add_metric(key, st["forward_dropped"])
        backlog.add_metric(key, st["outbox"]["depth_records"])
    yield from (connected, received, forwarded, dropped, backlog)


def _per_sink(v: View, o: OutboxStats) -> Iterator[Metric]:
    """Each sink's cursor in the outbox (the gateway's and its ingest workers' together), and the
    district forwarder's link: a district held back shows here, apart from the local sink."""
    pending = GaugeMetricFamily(
        "hallgate_outbox_sink_pending_records", "records a sink has not had yet", labels=["sink"]
    )
    dropped = CounterMetricFamily(
        "hallgate_outbox_sink_dropped_records", "records a sink lost because the outbox was full", labels=["sink"]
    )
    delivered = CounterMetricFamily(
        "hallgate_outbox_sink_delivered_records", "records delivered to a sink", labels=["sink"]
    )
    outboxes = [asdict(o), *(w.status["outbox"] for w in v.workers.values() if w.status)]
    for family, key in ((pending, "pending_by_sink"), (dropped, "dropped_by_sink"), (delivered, "delivered_by_sink")):
        total: dict[str, int] = {}
        for ob in outboxes:
            for sink, n in ob.get(key, {}).items():
                total[sink] = total.get(sink, 0) + n
        for sink, n in sorted(total.items()):
            family.add_metric([sink], n)
        yield family
    if v.district is not None:
        yield GaugeMetricFamily(
            "hallgate_district_up", "1 while the district store takes our writes", value=int(v.district.healthy)
        )
        yield CounterMetricFamily(
            "hallgate_district_errors",
            "failed writes to the district store",
            value=sum(v.district.errors_by_type.values()),
        )
    if v.district_vouch is not None:
        refused = CounterMetricFamily(
            "hallgate_district_refused_points", "points not forwarded: their time is not vouched for", labels=["reason"]
        )
        for reason in REFUSALS:
            refused.add_metric([reason], v.district_vouch.refused.get(reason, 0))
        yield refused
        if v.district_vouch.clock_offset_s is not None:
            yield GaugeMetricFamily(
                "hallgate_district_clock_offset_seconds",
                "the district store's clock minus this site's, at its last answer",
                value=v.district_vouch.clock_offset_s,
            )


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def registry_for(view: View) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(view))  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
