"""The ceiling for one Python process: a bare paho-mqtt subscriber, run as its own process.

    python -m bench.mqtt_baseline setup --port P --topic T --client-id C
    python -m bench.mqtt_baseline drain --port P --topic T --client-id C --count N

`setup` creates the persistent session and its QoS 1 subscription, then disconnects, so messages
published afterwards queue at the broker. `drain` reconnects to that session and receives until
`count` messages arrived: paho's own network loop (loop_forever), MQTT 5, QoS 1, automatic
acknowledgement, `json.loads` of each payload and nothing else. It prints one JSON line: the
time from the first to the last message, the CPU time over the same window, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SESSION_EXPIRY_S = 3600


def _client(client_id: str, receive_maximum: int) -> tuple[paho.Client, Properties]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(receive_maximum)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = receive_maximum  # the same window the gateway asks for
    return client, props


def setup(host: str, port: int, topic: str, client_id: str, receive_maximum: int) -> None:
    client, props = _client(client_id, receive_maximum)

    def on_connect(c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        c.subscribe(topic, qos=1)

    def on_subscribe(c: paho.Client, _u: object, _mid: int, reasons: list, _p: object) -> None:
        if any(r.is_failure for r in reasons):
            raise SystemExit(f"subscription refused: {reasons}")
        c.disconnect()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect(host, port, keepalive=30, clean_start=False, properties=props)
    client.loop_forever()


def drain(host: str, port: int, client_id: str, count: int, receive_maximum: int) -> dict:
    client, props = _client(client_id, receive_maximum)
    state = {"n": 0, "bad": 0, "t_first": 0.0, "cpu_first": 0.0, "t_last": 0.0, "cpu_last": 0.0}
    loads = json.loads

    def on_message(c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        n = state["n"] = state["n"] + 1
        if n == 1:
            state["t_first"] = time.perf_counter()
            state["cpu_first"] = time.process_time()
        try:
            loads(msg.payload)
        except ValueError:
            state["bad"] += 1
        if n >= count:
            state["t_last"] = time.perf_counter()
            state["cpu_last"] = time.process_time()
            c.disconnect()

    client.on_message = on_message
    t0 = time.perf_counter()
    client.connect(host, port, keepalive=30, clean_start=False, properties=props)
    client.loop_forever()
    wall = state["t_last"] - state["t_first"]
    return {
        "received": state["n"],
        "bad_json": state["bad"],
        "startup_s": state["t_first"] - t0,
        "wall_s": wall,
        # n - 1 intervals between the first and the last message
        "rate": (state["n"] - 1) / wall if wall > 0 else 0.0,
        "cpu_pct": 100 * (state["cpu_last"] - state["cpu_first"]) / wall if wall > 0 else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mqtt_baseline")
    ap.add_argument("mode", choices=["setup", "drain"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--topic", default="#")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--receive-maximum", type=int, default=2000)
    a = ap.parse_args(argv)
    if a.mode == "setup":
        setup(a.host, a.port, a.topic, a.client_id, a.receive_maximum)
    else:
        print(json.dumps(drain(a.host, a.port, a.client_id, a.count, a.receive_maximum)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
