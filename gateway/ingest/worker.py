"""An ingest worker: one member of the hall's MQTT shared subscription, in a process of its own.

Started by the gateway (gateway/ingest/workers.py) with one end of a socket pair. It takes its share
of the hall's messages with a client id and persistent session of its own, decodes them,
commits the lines to its own outbox, and only then acknowledges them, exactly as the gateway
does alone; its outbox drains to InfluxDB from here. The decoded events (not the lines) and
the quarantined messages go to the gateway, which keeps the one view of the hall (health,
occupancy, alerts, commands). Killed, its unacknowledged messages stay in its session at the
broker and come again when the gateway starts it anew.

With `retire`, it empties the session of a worker the configuration no longer has (the hall
went from 3 workers to 2): takes what the broker still queued there, then unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import asdict
from typing import Any

from drivers.mqtt import Message, MqttLink
from gateway import logformat
from gateway.config.hall import HallConfig
from gateway.devices import build_registry
from gateway.ingest.decode import Ingress
from gateway.ingest.forward import frame, read_frame, share_group, worker_outbox
from gateway.ingest.links import make_sink, worker_mqtt_options
from gateway.store.drain import DrainStats, drain
from gateway.store.outbox import Outbox

log = logging.getLogger("gateway.ingest.worker")

STATS_EVERY_S = 1.0
# Events waiting to reach the gateway: past this, the live view misses some (counted), while
# the records themselves are safe in this worker's outbox.
FORWARD_LIMIT_BYTES = 32 * 1024 * 1024
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
    outbox = Outbox(worker_outbox(cfg, index), max_bytes=cfg.store.max_bytes)
    sink = make_sink(cfg.influx)
    drained = DrainStats()
    store_error: str | None = None
    forward_dropped = 0

    def on_batch(messages: list[Message]) -> None:
        nonlocal store_error, forward_dropped
        decoded = ingress.decode(messages, time.time_ns())
        try:
            outbox.append(decoded.records)  # raises: nothing acknowledged, the broker redelivers
        except Exception as e:
            store_error = f"{type(e).__name__}: {e}"
            raise
        store_error = None
        decoded.records = []  # the gateway needs the events, not the lines
        if writer.transport.get_write_buffer_size() > FORWARD_LIMIT_BYTES:
            forward_dropped += len(decoded.events)
            return
        writer.write(frame(decoded))

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
            "forward_dropped": forward_dropped,
        }

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    if sink is not None:
        s = cfg.store
        tasks.append(
            asyncio.create_task(
                drain(outbox, sink, batch_size=s.batch_size, max_wait_s=s.flush_interval_s, stop=stop, stats=drained)
            )
        )

    async def gateway_gone() -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readexactly(1)  # the gateway sends nothing more: EOF means it has gone
        stop.set()

    tasks.append(asyncio.create_task(gateway_gone()))
    log.info("ingest worker %d: client id %s, %s", index, options.client_id, ", ".join(f for f, _ in filters))
    try:
        async with link:
            seen, quiet_since = -1, time.monotonic()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), STATS_EVERY_S)
                writer.write(frame(stats()))
                if retire and link.stats.connected:
                    if link.stats.messages_in != seen:
                        seen, quiet_since = link.stats.messages_in, time.monotonic()
                    elif time.monotonic() - quiet_since > RETIRE_QUIET_S and outbox.stats().depth_records == 0:
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
