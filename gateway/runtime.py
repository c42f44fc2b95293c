"""One hall gateway: composes the transports, the hub, the stores and the API on one event loop.

Every part is entered on one AsyncExitStack, so the gateway stops in the reverse order it
started; a part that fails to stop is logged by name and the others still stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from drivers.modbus import ModbusLine
from drivers.mqtt.link import MqttLink
from gateway.alerts.delivery import TargetStats, deliver, mqtt_sender, webhook_sender
from gateway.alerts.engine import AlertDesk
from gateway.alerts.rules import GatewayWatch
from gateway.api.app import WeakTokens, create_app
from gateway.api.server import ListenError, make_server
from gateway.commands import Caller, CommandDesk
from gateway.commands.senders.modbus import ModbusSender
from gateway.commands.senders.mqtt import MqttSender
from gateway.config.base import secret
from gateway.config.hall import HallConfig
from gateway.devices import DeviceEntry, build_registry
from gateway.features import FEATURES
from gateway.feeds import Summaries
from gateway.feeds import topic as feed_topic
from gateway.health import HealthBook
from gateway.ingest.hub import Hub
from gateway.ingest.links import (
    alerts_topic,
    district_drain,
    make_district_sink,
    make_sink,
    mqtt_options,
    outbox_cursors,
    status_topic,
)
from gateway.ingest.pollers import spawn_pollers
from gateway.ingest.workers import IngestWorkers
from gateway.kinds.base import KeepsRecords, Projection
from gateway.kinds.lookup import Projections
from gateway.kinds.registry import KINDS, stores
from gateway.kinds.wiring import Running, build, kind_builders
from gateway.redact import redact_url
from gateway.signin.desk import SignInDesk
from gateway.store.cursors import LOCAL
from gateway.store.drain import DrainStats, drain
from gateway.store.journal import Journal, JournalError
from gateway.store.outbox import Outbox
from gateway.store.writes import Unwritable
from gateway.supervisor import Supervisor
from gateway.view import View

log = logging.getLogger(__name__)

STATE_SAVE_S = 5.0
STATE_RETRY_S = 0.5
FEED_SUMMARY_S = 10.0  # a feed's counts compared with the last published (a new month, an order overdue)


class StartupError(Exception):
    """The gateway cannot start, for a reason the operator can fix (the message says how)."""


@dataclass
class Gateway:
    """The running gateway: its read model, and what the CLI prints."""

    cfg: HallConfig
    devices: dict[str, DeviceEntry]
    view: View
    hub: Hub


def _tokens(cfg: HallConfig) -> dict[str, str]:
    return {value: t.role for t in cfg.api.tokens if (value := secret(t.env))}


def _callers(cfg: HallConfig) -> dict[str, Caller]:
    """token -> who: the role, the name the audit gives the holder, a kiosk's locker."""
    return {value: Caller(t.role, t.actor, t.locker, staff=t.staff) for t in cfg.api.tokens if (value := secret(t.env))}


def _projections(cfg: HallConfig, devices: dict[str, DeviceEntry]) -> list[Projection]:
    """One of each projection the hall's kinds ask for (a kind absent from the hall adds none)."""
    factories = dict.fromkeys(
        f for kind in dict.fromkeys(d.kind for d in devices.values()) for f in KINDS[kind].projections
    )
    return [factory(cfg, devices) for factory in factories]


def _open_stores(cfg: HallConfig) -> tuple[Outbox, Journal]:
    """The store folder, outbox and state database, or one clear StartupError."""
    folder = cfg.store.path.parent
    hint = "请修正该目录的权限或换一个路径（store.path、HALLGATE_STORE__PATH）"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StartupError(f"store.path：无法创建目录 {folder}：{e.strerror}；{hint} (store_unwritable)") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StartupError(f"store.path：目录 {folder} 不可写；{hint} (store_unwritable)")
    try:
        outbox = Outbox(cfg.store.path, max_bytes=cfg.store.max_bytes, cursors=outbox_cursors(cfg))
    except (sqlite3.Error, OSError) as e:
        raise StartupError(
            f"store.path：无法打开发送队列 {cfg.store.path}：{e}；{hint}"
            "（磁盘满时显示为 disk I/O error 或 database or disk is full）(store_unwritable)"
        ) from None
    try:
        # Every registered kind's stores, not only the hall's kinds': their tables are there the
        # day a device of another kind is added, migrated like the gateway's own.
        journal = Journal(cfg.store.state_file, stores=stores())
    except (sqlite3.Error, OSError, JournalError) as e:
        outbox.close()
        raise StartupError(
            f"store.state_path：无法打开状态数据库 {cfg.store.state_file}：{e}；{hint} (state_db_unwritable)"
        ) from None
    return outbox, journal


def _stop(name: str, fn: Callable[[], object]) -> Callable[[], None]:
    def step() -> None:
        try:
            fn()
        except Unwritable as e:
            log.error("stopping %s: what it held is not saved, the state database cannot be written (%s)", name, e)
        except Exception:
            log.exception("stopping %s failed", name)

    return step


def _astop(name: str, fn: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        try:
            await fn()
        except Exception:
            log.exception("stopping %s failed", name)

    return step


@contextlib.asynccontextmanager
async def start_gateway(cfg: HallConfig) -> AsyncIterator[Gateway]:
    """`async with start_gateway(cfg) as gw:` runs the whole gateway until the block exits."""
    devices, problems = build_registry(cfg)
    if problems:
        raise StartupError("；".join(f"{p}：{m}" for p, m in problems))
    async with contextlib.AsyncExitStack() as stack:
        outbox, journal = _open_stores(cfg)
        stack.callback(_stop("the state database", journal.close))
        stack.callback(_stop("the outbox", outbox.close))
        health = HealthBook(devices, journal, cfg.health.clock_drift_limit_s)
        has_mqtt = any(d.protocol == "mqtt" for d in devices.values())
        targets = (("mqtt",) if has_mqtt else ()) + (("webhook",) if cfg.alerts.webhook else ())
        alerts = AlertDesk(
            health,
            {d.id: KINDS[d.kind] for d in devices.values()},
            journal,
            cfg.alerts,
            cfg.timezone,
            targets,
            started_ns=time.time_ns(),
        )
        projections = _projections(cfg, devices)
        for p in projections:
            # Projections that keep records in their kind's stores (ratings, punches) open them.
            if isinstance(p, KeepsRecords):
                stack.callback(_stop(f"projection {p.name}", p.attach(journal)))
        lines: dict[str, ModbusLine] = {}
        commands_mqtt = MqttSender(cfg.site)  # its link is attached once the MQTT link is up
        # A command's timeout raises an alert, its late answer resolves it.
        desk = CommandDesk(
            cfg, devices, journal, outbox, health, {"mqtt": commands_mqtt, "modbus": ModbusSender(lines)}, alerts
        )
        # What the hall's kinds and the cross-kind features add: riders on the desk (before the hub
        # restores their state), supervised tasks, savers, what the routes read.
        running = Running(cfg, desk, journal, Projections(projections), outbox)
        parts = build(running, [*kind_builders(d.kind for d in devices.values()), *FEATURES])
        hub = Hub(cfg.site, devices, outbox, health, [*projections, alerts, desk], journal)
        hub.restore(journal)
        sink = make_sink(cfg.influx)
        if sink is not None:
            stack.push_async_callback(_astop("the InfluxDB sink", sink.close))
        district = make_district_sink(cfg)
        if district is not None:
            stack.push_async_callback(_astop("the district sink", district.close))
        # Last things before the stores close: what the pollers handed over, and the zones' state.
        saving = lambda: (hub.flush(), journal.save_states(hub.states()), [s() for s in parts.savers])  # noqa: E731
        stack.callback(_stop("saving state", saving))
        stack.callback(_stop("the Modbus lines", lambda: [line.close() for line in lines.values()]))
        supervisor = Supervisor()
        stats = DrainStats()
        view = View(
            cfg,
            devices,
            hub,
            outbox,
            journal,
            supervisor,
            lines,
            stats,
            alerts,
            sink_name=sink.name if sink else None,
            sink_url=redact_url(cfg.influx.url),
        )
        view.commands = desk
        view.signin = SignInDesk(journal.repos.accounts, cfg.api.sessions, cfg.timezone)
        view.serves = {type(p): p for p in parts.serves}
        gw = Gateway(cfg, devices, view, hub)
        wakes = {t: asyncio.Event() for t in targets}
        alerts.on_change.append(lambda _: [w.set() for w in wakes.values()])

        mqtt: MqttLink | None = None
        summaries = Summaries(cfg.site, parts.feeds, ZoneInfo(cfg.timezone))  # gateway/feeds.py
        for f in parts.feeds:
            f.live = has_mqtt
        if has_mqtt:
            # With ingest workers, they take the hall's messages; the gateway's own session keeps
            # none of the filters it may hold from a run without them (what it still has queued
            # is ingested here as ever).
            alone = cfg.ingest.workers == 1

            def connected(link: MqttLink) -> None:
                if not alone:
                    link.unsubscribe([f for f, _ in hub.subscriptions()])
                link.publish(status_topic(cfg), _online(), qos=1, retain=True)
                _publish_summary(link, cfg, alerts)
                summaries.publish(lambda t, p: link.publish(t, p, qos=1, retain=True), time.time_ns(), force=True)

            mqtt = MqttLink(
                mqtt_options(cfg), hub.ingest_mqtt, hub.subscriptions() if alone else [], on_connect=connected
            )
            await mqtt.__aenter__()
            view.mqtt_stats = lambda: mqtt.stats if mqtt else None
            shutdown = json.dumps({"state": "offline", "reason": "shutdown"}).encode()
            stack.push_async_callback(_astop("the MQTT link", lambda: mqtt.close(shutdown, status_topic(cfg))))
            commands_mqtt.attach(mqtt, lambda: mqtt is not None and mqtt.stats.connected)
        # Commands in flight stop before the links they use; their rows stay pending for the next start.
        stack.push_async_callback(_astop("the commands in flight", desk.aclose))

        stack.push_async_callback(_astop("the supervised tasks", supervisor.aclose))
        if has_mqtt:
            workers = IngestWorkers(cfg, hub, journal)
            view.workers = workers.states
            stack.push_async_callback(_astop("the ingest workers", workers.aclose))
            workers.start(supervisor)
        if sink is not None:
            s = cfg.store
            supervisor.spawn(
                "drain",
                lambda: drain(
                    outbox.cursor(LOCAL),
                    sink,
                    batch_size=s.batch_size,
                    max_wait_s=s.flush_interval_s,
                    stop=asyncio.Event(),
                    stats=stats,
                ),
            )
        if district is not None:
            view.district = DrainStats()
            view.district_vouch = district.vouch
            supervisor.spawn("district", lambda: district_drain(outbox, district, cfg, asyncio.Event(), view.district))
        spawn_pollers(supervisor, devices, lines, hub)
        for name, task in parts.tasks.items():
            supervisor.spawn(name, task)
        watch = GatewayWatch(cfg.alerts.severity)

        def tick() -> None:
            # Each step on its own: a state database that cannot be written (logged once and
            # counted by its Writes, retried by the part below) must not stop the others.
            _despite_state(hub.tick)
            _despite_state(lambda: desk.tick(time.time_ns()))
            o = outbox.stats()
            now = time.time_ns()
            conditions = watch.conditions(
                now_ns=now,
                dropped_total=sum(o.dropped_by_class.values()),
                store_error=hub.store_error[1] if hub.store_error else None,
                sink_failing=sink is not None and not stats.healthy and stats.last_error is not None,
                sink_error=stats.last_error,
            )
            _despite_state(lambda: alerts.evaluate(now, hub.conditions(now) + conditions))

        supervisor.spawn("tick", lambda: _every(1.0, tick))
        # While the state database cannot be written: what waits in memory, and a probe, every
        # half second, so /readyz is 200 again within a second of space returning.
        supervisor.spawn("state database retry", lambda: _every(STATE_RETRY_S, journal.retry_writes))
        if mqtt is not None:
            # The same for the outbox: while it refuses commits the link backs off (up to 30 s);
            # once a probe can be written the broker is asked for the batches again at once.
            supervisor.spawn("outbox retry", lambda: _every(STATE_RETRY_S, outbox_retry(outbox, mqtt, hub)))
        if mqtt is not None:
            link = mqtt
            topic = alerts_topic(cfg)
            supervisor.spawn(
                "alerts to mqtt",
                lambda: deliver(
                    "mqtt",
                    journal,
                    mqtt_sender(lambda t, p: link.publish(t, p, qos=1), lambda: link.stats.connected, topic),
                    wakes["mqtt"],
                    view.delivery["mqtt"],
                    after_batch=lambda: _publish_summary(link, cfg, alerts),
                ),
            )
            _spawn_feeds(supervisor, journal, link, summaries, view)
        if cfg.alerts.webhook is not None:
            _spawn_webhook(stack, supervisor, journal, "webhook", cfg.alerts.webhook, wakes["webhook"], view)
        for hook in parts.webhooks:
            # E.g. pickup codes for applicants: the alerts' durable queue and sender, its own target.
            view.delivery[hook.target] = TargetStats()
            _spawn_webhook(stack, supervisor, journal, hook.target, hook.hook, hook.wake, view, hook.send)

        def save_state() -> None:
            _despite_state(lambda: journal.save_states(hub.states()))
            for saver in parts.savers:
                _despite_state(saver)

        supervisor.spawn("state", lambda: _every(STATE_SAVE_S, save_state))

        await _serve_api(stack, view, _tokens(cfg), cfg)
        desk.recover_all()  # what a stopped gateway left pending: settled without sending twice
        # What start built (compiled profiles, configuration models, device state: millions of
        # objects in a large hall) lives as long as the gateway: keep it out of the collector's
        # full passes, which otherwise stall the event loop for a second at a time.
        gc.freeze()
        yield gw


def _spawn_webhook(
    stack: contextlib.AsyncExitStack,
    supervisor: Supervisor,
    journal: Journal,
    target: str,
    hook: Any,
    wake: asyncio.Event,
    view: View,
    make_send: Any = None,
) -> None:
    """A webhook fed from the durable delivery queue's `target` rows, with a client of its own."""
    client = httpx.AsyncClient(timeout=hook.timeout_s)
    stack.push_async_callback(_astop(f"the {target} webhook client", client.aclose))
    send = make_send(client) if make_send else webhook_sender(client, hook.url, secret(hook.token_env))
    supervisor.spawn(f"{target} deliveries", lambda: deliver(target, journal, send, wake, view.delivery[target]))


async def _serve_api(stack: contextlib.AsyncExitStack, view: View, tokens: dict[str, str], cfg: HallConfig) -> None:
    try:
        app = create_app(view, tokens, _callers(cfg), view.signin)
        server, sock = make_server(app, cfg.api.host, cfg.api.port)
    except (ListenError, WeakTokens) as e:
        raise StartupError(str(e)) from None
    task = asyncio.create_task(server.serve(sockets=[sock]), name="api")

    async def stop() -> None:
        view.stopping.set()  # streams end, so the server need not wait for them
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 5.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sock.close()

    stack.push_async_callback(_astop("the API", stop))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
        raise StartupError("API 在启动时停止了：请看上面的日志 (api_stopped)")


def _spawn_feeds(supervisor: Supervisor, journal: Journal, link: MqttLink, summaries: Summaries, view: View) -> None:
    """Each feed's changes from the durable delivery queue, as the alerts' (gateway/feeds.py); its
    retained summary after each batch, and whenever its counts changed."""

    def retained() -> None:
        if link.stats.connected:  # else the next connect publishes them all
            summaries.publish(lambda t, p: link.publish(t, p, qos=1, retain=True), time.time_ns())

    for f in summaries.feeds:
        view.delivery[f.target] = TargetStats()
        send = mqtt_sender(
            lambda t, p: link.publish(t, p, qos=1), lambda: link.stats.connected, feed_topic(summaries.site, f.name)
        )
        supervisor.spawn(
            f"{f.name} to mqtt",
            lambda f=f, send=send: deliver(
                f.target, journal, send, f.wake, view.delivery[f.target], retained, idle_s=1.0
            ),
        )
    if summaries.feeds:
        supervisor.spawn("feed summaries", lambda: _every(FEED_SUMMARY_S, retained))


def _publish_summary(link: MqttLink, cfg: HallConfig, alerts: AlertDesk) -> None:
    body = json.dumps(alerts.summary(), ensure_ascii=False, separators=(",", ":")).encode()
    link.publish(alerts_topic(cfg), body, qos=1, retain=True)


def _online() -> bytes:
    ts = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return json.dumps({"state": "online", "ts": ts}).encode()


def _despite_state(fn: Callable[[], object]) -> None:
    """`fn()`, unless the state database cannot be written: that is logged once, counted and
    reported by /readyz (gateway/store/writes.py), and what `fn` saves is saved at its next turn."""
    with contextlib.suppress(Unwritable):
        fn()


def outbox_retry(outbox: Outbox, link: MqttLink, hub: Hub) -> Callable[[], None]:
    def retry() -> None:
        if hub.store_error is None:
            return
        try:
            outbox.probe()
        except sqlite3.Error:
            return  # still cannot be written: the link goes on backing off
        link.retry_now()

    return retry


async def _every(period_s: float, fn: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(period_s)
        fn()
