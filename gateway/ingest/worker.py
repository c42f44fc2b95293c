"""An ingest worker: one member of the hall's MQTT shared subscription, in a process of its own.

Started by the gateway (gateway/ingest/workers.py) with one end of a socket pair. It takes its share
of the hall's messages with a client id and persistent session of its own, decodes them,
commits the lines to its own outbox, and only then acknowledges them, exactly as the gateway
does alone; its outbox drains to InfluxDB from here. The decoded events (not the lines) and
the quarantined messages go to the gateway, which keeps the one view of the hall (health,
occupancy, alerts, commands) and its records: they are kept in the same transaction as the
lines, in the outbox file's forward table, until the gateway acknowledges that its records hold
them, and a worker that starts sends what is still there first (gateway/store/forwarded.py).
Killed, its unacknowledged messages stay in its session at the broker and come again when the
gateway starts it anew. The gateway counts it ready once its subscriptions are acknowledged
(SUBACK): a session that never existed queues nothing for it before that.

With `retire`, it empties the session of a worker the configuration no longer has (the hall
went from 3 workers to 2): takes what the broker still queued there, then unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import sqlite3
import sys
import time
from dataclasses import asdict
from typing import Any

from drivers.mqtt.link import MqttLink
from drivers.mqtt.options import Message
from gateway import logformat
from gateway.config.hall import HallConfig
from gateway.devices import build_registry
from gateway.ingest.decode import Ingress
from gateway.ingest.forward import frame, read_frame, share_group, worker_outbox
from gateway.ingest.links import district_drain, make_district_sink, make_sink, outbox_cursors, worker_mqtt_options
from gateway.store.cursors import LOCAL
from gateway.store.drain import DrainStats, drain
from gateway.store.forwarded import Forwarded, ForwardLog
from gateway.store.outbox import Outbox

log = logging.getLogger("gateway.ingest.worker")

STATS_EVERY_S = 1.0
SUBSCRIBE_POLL_S = 0.05
# Forwarded events the gateway has not acknowledged yet (gateway/store/forwarded.py): past this,
# a batch's events are not kept for its records (counted), while its lines still go to InfluxDB.
FORWARD_LIMIT_BYTES = 64 * 1024 * 1024
SEND_AHEAD_BYTES = 4 * 1024 * 1024  # written to the socket ahead of the gateway's reading
PUMP_ROWS = 64
RETIRE_QUIET_S = 2.0  # a retiring session with nothing more for this long is empty


async def serve(sock: socket.socket) -> int:
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    hello = await read_frame(reader)
    cfg = HallConfig.model_validate_json(hello["config"])
    index: int = hello["index"]
    retire: bool = hello["retire"]
    devices, problems = build_registry(cfg)
    if problems:
        log.error("worker %d: the configuration has problems: %s", index, problems)
        return 2
    ingress = Ingress(cfg.site, devices)
    outbox = Outbox(worker_outbox(cfg, index), max_bytes=cfg.store.max_bytes, cursors=outbox_cursors(cfg))
    sink = make_sink(cfg.influx)
    district = make_district_sink(cfg)
    drained, forwarded = DrainStats(), DrainStats()
    store_error: str | None = None

    fwd = ForwardLog(outbox.connection, FORWARD_LIMIT_BYTES)
    sent = 0  # the last seq written to the socket: what comes after it is sent by pump()

    def pump() -> None:
        """Send the rows not sent yet, oldest first, while the socket keeps up; the acknowledgements
        the gateway sends back call this again, so a backlog (a replay at start) follows in turn."""
        nonlocal sent
        while writer.transport.get_write_buffer_size() < SEND_AHEAD_BYTES:
            rows = fwd.after(sent, PUMP_ROWS)
            if not rows:
                return
            for seq, data in rows:
                writer.write(frame(Forwarded(fwd.stream, seq, data)))
                sent = seq

    def on_batch(messages: list[Message]) -> None:
        nonlocal store_error, sent
        decoded = ingress.decode(messages, time.time_ns())
        records, decoded.records = decoded.records, []  # the gateway needs the events, not the lines
        data, keep = b"", None
        if decoded.events or decoded.bad or decoded.unknown or decoded.commands_seen:
            data = pickle.dumps(decoded, protocol=pickle.HIGHEST_PROTOCOL)
            keep = fwd.keep(data, len(decoded.events))
        before = fwd.top
        try:
            # One transaction: the lines and the events forwarded; raises: nothing acknowledged,
            # the broker redelivers.
            outbox.append(records, also=keep)
        except Exception as e:
            fwd.rolled_back()
            store_error = f"{type(e).__name__}: {e}"
            raise
        store_error = None
        seq = fwd.committed()
        if seq is None:
            return
        if sent >= before and writer.transport.get_write_buffer_size() < SEND_AHEAD_BYTES:
            writer.write(frame(Forwarded(fwd.stream, seq, data)))
            sent = seq
        else:
            pump()

    share = share_group(cfg)
    filters = ingress.subscriptions(share=share)
    options = worker_mqtt_options(cfg, index)
    link = MqttLink(options, on_batch, filters)

    def stats() -> dict[str, Any]:
        m = link.stats
        return {
            "index": index,
            "pid": os.getpid(),
            "mqtt": {
                "connected": m.connected,
                "subscribed": m.subscribed,
                "connects": m.connects,
                "messages_in": m.messages_in,
                "batches_failed": m.batches_failed,
                "last_error": m.last_error,
            },
            "outbox": asdict(outbox.stats()),
            "sink": {
                "healthy": drained.healthy,
                "delivered_total": drained.delivered_total,
                "last_error": drained.last_error,
            }
            if sink is not None
            else None,
            "store_error": store_error,
            "forward": fwd.stats(),
            "forward_dropped": fwd.dropped_events,
        }

    def emptied() -> bool:
        """Nothing left for InfluxDB, nor for the gateway's records."""
        return outbox.stats().depth_records == 0 and fwd.acked >= fwd.top

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    if sink is not None:
        s = cfg.store
        tasks.append(
            asyncio.create_task(
                drain(
                    outbox.cursor(LOCAL),
                    sink,
                    batch_size=s.batch_size,
                    max_wait_s=s.flush_interval_s,
                    stop=stop,
                    stats=drained,
                )
            )
        )
    if district is not None:
        tasks.append(asyncio.create_task(district_drain(outbox, district, cfg, stop, forwarded)))

    async def acknowledgements() -> None:
        """The seqs whose records the gateway has committed; EOF means it has gone."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                fwd.acked = max(fwd.acked, await read_frame(reader))
                forward_more(prune=False)  # pruned with the next batch's commit: no fsync of its own
        stop.set()

    def forward_more(prune: bool) -> None:
        """pump() (and prune()), for callers that must go on when the file fails (the rows stay)."""
        try:
            pump()
            if prune:
                fwd.prune()
        except sqlite3.Error as e:
            log.error("ingest worker %d: its forward table cannot be read or pruned now: %s", index, e)

    pump()  # what the last run forwarded and the gateway did not acknowledge: replayed first
    tasks.append(asyncio.create_task(acknowledgements()))
    log.info("ingest worker %d: client id %s, %s", index, options.client_id, ", ".join(f for f, _ in filters))
    try:
        async with link:
            seen, quiet_since = -1, time.monotonic()
            reported, subscribed = 0.0, False
            while not stop.is_set():
                # Until subscribed, looked at often: the gateway is ready only once every worker is.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), STATS_EVERY_S if subscribed else SUBSCRIBE_POLL_S)
                if store_error is not None:
                    # Its outbox refused a batch (a full disk): once a probe fits, the broker is
                    # asked for the batch again now rather than after the link's backoff.
                    with contextlib.suppress(sqlite3.Error):
                        outbox.probe()
                        link.retry_now()
                if subscribed == link.stats.subscribed and time.monotonic() - reported < STATS_EVERY_S / 2:
                    continue
                subscribed, reported = link.stats.subscribed, time.monotonic()
                forward_more(prune=True)  # what the gateway acknowledged while no batch came
                writer.write(frame(stats()))
                if retire and link.stats.connected:
                    if link.stats.messages_in != seen:
                        seen, quiet_since = link.stats.messages_in, time.monotonic()
                    elif time.monotonic() - quiet_since > RETIRE_QUIET_S and emptied():
                        link.unsubscribe([f for f, _ in filters])
                        await asyncio.sleep(0.2)  # the UNSUBSCRIBE on its way before the DISCONNECT
                        log.info("ingest worker %d: session retired", index)
                        break
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            writer.write(frame(stats()))
            await writer.drain()
        writer.close()
        if sink is not None:
            await sink.close()
        if district is not None:
            await district.close()
        outbox.close()
    return 0


def main(argv: list[str]) -> int:
    # One record, one line, as the gateway's own log: topics and payload excerpts come from outside.
    logformat.setup(logging.INFO, "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.WARNING)
    sock = socket.socket(fileno=int(argv[0]))
    return asyncio.run(serve(sock))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
