"""The district broker, read: what each site's Mosquitto bridges up (gateway/broker_bridge.py).

- `hall/{site}/gateway/status`: the gateway's retained `{"state": "online"|"offline"}` (its will);
- `hall/{site}/gateway/alerts`: the retained summary of the open alerts (`type: summary`), and each
  change (`type: change`) between two summaries;
- `hall/{site}/gateway/workorders`, `.../violations`: the retained summaries of the open 差评 work
  orders (`open`, `overdue`) and violations (`open`, `confirmed` this month), republished after
  each change (gateway/feeds.py); the changes between them are not needed for the counts;
- `hall/{site}/bridge/state`: the bridge's own `1`/`0` (retained, its will at the district).

paho runs its network loop in a thread of its own; the API reads a copy taken under a lock. It
subscribes only: the district never publishes to a site.
"""

from __future__ import annotations

import copy
import json
import logging
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from gateway.config.base import secret
from gateway.district.config import DistrictBrokerView
from gateway.district.state import Heard

log = logging.getLogger("gateway.district.watcher")

TOPICS = (
    "hall/+/gateway/status",
    "hall/+/gateway/alerts",
    "hall/+/gateway/workorders",
    "hall/+/gateway/violations",
    "hall/+/bridge/state",
)
COUNTED = {"gateway/workorders": ("open", "overdue"), "gateway/violations": ("open", "confirmed")}
ACTIVE = ("open", "acknowledged")  # gateway/alerts/lifecycle.py ACTIVE


class BrokerWatcher:
    def __init__(self, cfg: DistrictBrokerView, client_id: str = "hallgate-district-view") -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.sites: dict[str, Heard] = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if cfg.username:
            self.client.username_pw_set(cfg.username, secret(cfg.password_env))
        if cfg.ca_file is not None:
            self.client.tls_set(ca_certs=str(cfg.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> dict[str, Heard]:
        with self.lock:
            return copy.deepcopy(self.sites)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            log.warning("district broker %s:%s refused the view: %s", self.cfg.host, self.cfg.port, reason)
            return
        client.subscribe([(t, 1) for t in TOPICS])
        self.connected.set()

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) != 4 or parts[0] != "hall":
            return
        site, what = parts[1], "/".join(parts[2:])
        try:
            with self.lock:
                heard = self.sites.setdefault(site, Heard())
                if what == "bridge/state":
                    heard.bridge = msg.payload.strip() == b"1"
                elif what == "gateway/status":
                    heard.gateway = str(json.loads(msg.payload).get("state")) if msg.payload else None
                    heard.gateway_at_s = time.time()
                elif what == "gateway/alerts":
                    _alerts(heard, json.loads(msg.payload))
                elif what in COUNTED:
                    _counts(heard, what.removeprefix("gateway/"), json.loads(msg.payload))
        except (ValueError, AttributeError, TypeError, KeyError) as e:
            # A site's bad message says nothing about the others: set aside, logged.
            log.warning("district broker: unreadable %s from %s: %s", msg.topic, site, e)


def _alerts(heard: Heard, body: dict[str, Any]) -> None:
    if body.get("type") == "summary":
        heard.alerts = {int(a["id"]): a for a in body.get("alerts", []) if a.get("state") in ACTIVE}
    elif body.get("type") == "change":
        a = body["alert"]
        if a.get("state") in ACTIVE:
            heard.alerts[int(a["id"])] = a
        else:
            heard.alerts.pop(int(a["id"]), None)


def _counts(heard: Heard, feed: str, body: dict[str, Any]) -> None:
    """A feed's retained summary: its counts (whole numbers), the month they are of, when made."""
    if body.get("type") != "summary":
        return
    counts: dict[str, Any] = {k: int(body[k]) for k in COUNTED[f"gateway/{feed}"]}
    counts |= {k: str(body[k]) for k in ("month", "at") if body.get(k) is not None}
    heard.counts[feed] = counts
