"""A QoS 1 publisher for fault tests and benchmarks: rating-pad events, each PUBACK counted."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

BASE_TS = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def rating_event(seq: int) -> bytes:
    ts = (
        (BASE_TS + timedelta(milliseconds=seq * 7))
        .astimezone(datetime.now().astimezone().tzinfo)
        .isoformat(timespec="milliseconds")
    )
    return json.dumps(
        {
            "seq": seq,
            "ts": ts,
            "type": "rated",
            "case_id": f"320111-2026-{seq:07d}",
            "window": "W07",
            "staff_id": "S0231",
            "ticket": f"A{seq % 1000:03d}",
            "item": "营业执照设立登记",
            # A hall's mix: about 1 % 差评 (it opens a work order and an alert each), some 4s, mostly 5s.
            "score": score(seq),
            "reasons": ["slow"] if score(seq) <= 2 else [],
        },
        ensure_ascii=False,
    ).encode()


def score(seq: int) -> int:
    return 2 if seq % 100 == 0 else 4 if seq % 100 < 6 else 5


class Publisher:
    """Publishes `count` messages to `topic` from a paho network thread; `acked` counts PUBACKs."""

    def __init__(
        self, host: str, port: int, topic: str, count: int, client_id: str = "load-publisher", first: int = 0
    ) -> None:
        self.topic, self.count, self.first = topic, count, first
        self.acked = 0
        self.published = 0
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _on_publish(self, client: paho.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with self._lock:
            self.acked += 1

    def _run(self) -> None:
        for seq in range(self.first, self.first + self.count):
            # paho queues while disconnected (max_queued 0 = unbounded) and resends on reconnect.
            self.client.publish(self.topic, rating_event(seq), qos=1)
            self.published += 1
            while self.published - self.acked > 5000:
                time.sleep(0.001)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def wait_acked(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"publisher: {self.acked} of {n} acknowledged after {timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
