"""The baseline of the simulator benchmark: N bare aiomqtt clients in one process publishing the
same traffic as N simulated MQTT devices at nominal rates (retained status once, a heartbeat
every `heartbeat_s`, QoS 1 events at `rate_per_min`), with no firmware logic at all.

    python -m bench.sim_baseline --port P --clients N --heartbeat-s 30 --rate 2 --duration S

Prints `online` once every client is connected, then runs until SIGTERM or `duration`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import time

import aiomqtt


async def client(i: int, port: int, heartbeat_s: float, rate: float, online: asyncio.Event, count: list[int]) -> None:
    rng = random.Random(i)
    base = f"hall/base/rating/b{i:05d}"
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"base-{i}", protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.publish(f"{base}/status", json.dumps({"state": "online"}), qos=1, retain=True)
        count[0] += 1
        if count[0] == count[1]:
            online.set()
        next_beat = time.monotonic() + heartbeat_s
        seq = 0
        while True:
            wait_event = rng.expovariate(rate / 60.0) if rate > 0 else heartbeat_s
            now = time.monotonic()
            if next_beat - now < wait_event:
                await asyncio.sleep(max(next_beat - now, 0))
                await c.publish(f"{base}/heartbeat", json.dumps({"ts": time.time(), "uptime_s": 1}), qos=0)
                next_beat += heartbeat_s
            else:
                await asyncio.sleep(wait_event)
                seq += 1
                await c.publish(f"{base}/event", json.dumps({"seq": seq, "ts": time.time(), "score": 5}), qos=1)


async def main_async(args: argparse.Namespace) -> None:
    online = asyncio.Event()
    count = [0, args.clients]
    tasks = []
    for i in range(args.clients):
        tasks.append(asyncio.create_task(client(i, args.port, args.heartbeat_s, args.rate, online, count)))
        if i % 50 == 49:
            await asyncio.sleep(0)  # let connections complete in batches, as the simulator does
    await online.wait()
    print("online", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.duration)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--heartbeat-s", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=600.0)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
