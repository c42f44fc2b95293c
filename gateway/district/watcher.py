"""The district broker, read: what each site's Mosquitto bridges up (gateway/broker_bridge.py).

- `hall/{site}/gateway/status`: the gateway's retained `{"state": "online"|"offline"}` (its will);
- `hall/{site}/gateway/alerts`: the retained summary of the open alerts (`type: summary`), and each
  change (`type: change`) between two summaries;
- `hall/{site}/gateway/workorders`, `.../violations`: each 差评 work order's and violation's change
  (codes only, no names) and their retained summary of counts, which is what the district keeps;
- `hall/{site}/bridge/state`: the bridge's own `1`/`0` (retained, its will at the district).

paho runs its network loop in a thread of its own; the API reads a copy taken under a lock. It
subscribes only: the district never publishes to a site.

Nothing a site sends is trusted: a topic of a site district.yaml does not list is set aside (its
broker ACL should refuse it already), a payload over MAX_PAYLOAD is not parsed, a payload naming
another site than its topic is refused, and the alerts kept are cut to state.py's bounds. One
site's bad message changes nothing of the others'.
"""

from __future__ import annotations

import copy
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterable
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
# A feed's retained summary: the counts the district shows (gateway/feeds.py).
COUNTED = {"gateway/workorders": ("open", "overdue"), "gateway/violations": ("open", "confirmed")}
MAX_PAYLOAD = 1 << 20  # a summary of 100 alerts is ~30 KB
STRANGERS_LOGGED = 100  # unknown sites named in the log, once each; past that they are only counted


class BrokerWatcher:
    def __init__(
        self, cfg: DistrictBrokerView, sites: Iterable[str], client_id: str = "hallgate-district-view"
    ) -> None:
        self.cfg = cfg
        self.known = frozenset(sites)  # district.yaml's site ids: no other is kept
        self.lock = threading.Lock()
        self.sites: dict[str, Heard] = {}
        self.strangers: set[str] = set()
        self.refused = 0  # messages set aside (unknown site, too big, unreadable)
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
            if site not in self.known:
                raise Refused("a site district.yaml does not list", stranger=site)
            if len(msg.payload) > MAX_PAYLOAD:
                raise Refused(f"{len(msg.payload)} bytes, over {MAX_PAYLOAD}")
            body = None if what == "bridge/state" or not msg.payload else json.loads(msg.payload)
            if body is not None and not isinstance(body, dict):
                raise Refused("not a JSON object")
            if body is not None and body.get("site", site) != site:
                raise Refused(f"its payload names the site {str(body['site'])[:64]!r}")
            with self.lock:
                heard = self.sites.setdefault(site, Heard())
                if what == "bridge/state":
                    heard.bridge = msg.payload.strip() == b"1"
                elif what == "gateway/status":
                    said = None if body is None else body.get("state")
                    heard.gateway = said if said in ("online", "offline") else None
                    heard.gateway_at_s = time.time()
                elif what == "gateway/alerts" and body is not None:
                    if body.get("type") == "summary":
                        heard.summary(body)
                    elif body.get("type") == "change":
                        heard.change(body)
                elif what in COUNTED and body is not None and body.get("type") == "summary":
                    heard.feed_summary(what.removeprefix("gateway/"), COUNTED[what], body)
        except (Refused, ValueError, RecursionError) as e:
            # A site's bad message says nothing about the others: set aside, logged (a stranger once).
            self.refused += 1
            stranger = getattr(e, "stranger", None)
            if stranger is None or (stranger not in self.strangers and len(self.strangers) < STRANGERS_LOGGED):
                if stranger is not None:
                    self.strangers.add(stranger)
                log.warning("district broker: %s set aside: %s", msg.topic[:200], e)


class Refused(Exception):
    def __init__(self, why: str, stranger: str | None = None) -> None:
        super().__init__(why)
        self.stranger = stranger
