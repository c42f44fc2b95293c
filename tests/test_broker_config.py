"""`hallgate broker-config`: a real Mosquitto started with what it generates for two halls that
share one broker (the same device id in both) keeps everyone where they belong: a device cannot
take another's session by sending its client id, cannot write under another hall or kind, a
gateway cannot read another hall, and the gateway with two ingest workers (each its own user)
takes the hall's messages. The example files in configs/mosquitto are what it generates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.paths import CONFIGS_DIR
from tests.servers import free_port
from tests.test_deploy import HALLGATE, ExampleMosquitto, env_file
from tests.waits import wait_for

PASSWORD = {"hallgate-a": "gw-a-pw", "hallgate-b": "gw-b-pw"}


def password(user: str) -> str:
    """A gateway's, its workers' (the gateway's: `hallgate-a-w1`), or a device's own."""
    return PASSWORD.get(user) or PASSWORD.get(user.rpartition("-w")[0]) or f"{user}-pw"


# The halls are these files alone: no HALLGATE_ override from the caller's environment.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("HALLGATE_")}


def hall_yaml(folder: Path, site: str, gateway: str, devices: str, workers: int = 1, port: int = 1883) -> Path:
    path = folder / f"{site}.yaml"
    path.write_text(f"""
site: {site}
api: {{host: 127.0.0.1, port: {free_port()}}}
broker: {{host: 127.0.0.1, port: {port}, protocol: 5, username: {gateway}, password_env: MQTT_{site.upper()[-1]}}}
ingest: {{workers: {workers}}}
store: {{path: {folder}/{site}/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: none}}
devices:
{devices}
""")
    return path


HALL_A = """
  - {id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 4}
  - {id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}
"""
# The same pad id as hall-a's: on a shared broker it logs in as a user of its own.
HALL_B = """
  - {id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01, mqtt: {username: hall-b-rp-1}}
"""


def broker_config(*configs: Path, out: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(HALLGATE), "broker-config", *(a for c in configs for a in ("-c", str(c)))]
    return subprocess.run(
        args + (["--out", str(out)] if out else []), capture_output=True, text=True, timeout=60, env=ENV
    )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[ExampleMosquitto, Path, Path]]:
    """Mosquitto from `hallgate broker-config -c hall-a -c hall-b`, every user of its ACL with a password."""
    a = hall_yaml(tmp_path, "hall-a", "hallgate-a", HALL_A, workers=2)
    b = hall_yaml(tmp_path, "hall-b", "hallgate-b", HALL_B)
    made = broker_config(a, b, out=tmp_path / "generated")
    assert made.returncode == 0, made.stderr
    users = [line.split()[-1] for line in made.stdout.splitlines() if line.strip().startswith("mosquitto_passwd")]
    assert users == ["hallgate-a", "hallgate-a-w1", "hallgate-a-w2", "lb-1", "rp-1", "hallgate-b", "hall-b-rp-1"]
    passwords = {u: password(u) for u in users}
    (tmp_path / "mosquitto").mkdir()
    mqtt = ExampleMosquitto(tmp_path / "mosquitto", passwords, source=tmp_path / "generated")
    mqtt.start()
    try:
        # Only the test's port: a listener's setting above any `listener` line opens one on 1883.
        assert "on port 1883" not in (mqtt.folder / "mosquitto.log").read_text()
        yield mqtt, a, b
    finally:
        mqtt.stop()


class Client:
    """A paho MQTT 5 client that records what it receives, its connects and its disconnects."""

    def __init__(
        self, port: int, user: str, client_id: str, will: str | None = None, secret: str | None = None
    ) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.connects = 0
        self.disconnects: list[Any] = []
        self.subacks: list[list[Any]] = []
        self._connected = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        self.c.username_pw_set(user, secret or password(user))
        if will:
            self.c.will_set(will, json.dumps({"state": "offline"}), qos=1, retain=False)
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.append(rc)
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.append(rcs)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.c.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.c.loop_start()
        wait_for(self._connected.is_set, what=f"{user} connected")

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        assert not rc.is_failure, rc
        self.connects += 1
        self._connected.set()

    def subscribe(self, *filters: str) -> list[Any]:
        n = len(self.subacks)
        self.c.subscribe([(f, 1) for f in filters])
        wait_for(lambda: len(self.subacks) > n, what=f"the SUBACK for {filters}")
        return self.subacks[n]

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, returning once the broker acknowledged it (it has then routed it)."""
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_a_device_cannot_take_the_gateways_or_another_devices_session(broker: tuple) -> None:
    mqtt, _, _ = broker
    gateway = Client(mqtt.port, "hallgate-a", "hallgate-hall-a", will="hall/hall-a/gateway/status")
    lockbox = Client(mqtt.port, "lb-1", "lockbox-lb-1", will="hall/hall-a/lockbox/lb-1/status")
    watcher = Client(mqtt.port, "hallgate-a-w1", "watcher")  # reads the hall: sees any will fire
    clients = [gateway, lockbox, watcher]
    try:
        watcher.subscribe("hall/hall-a/#")
        # The pad logs in with the gateway's client id, then with the lockbox's (and its own kind's
        # form of it): the broker makes its client id its username each time.
        for stolen in ("hallgate-hall-a", "hallgate-a", "lockbox-lb-1", "lb-1"):
            thief = Client(mqtt.port, "rp-1", stolen)
            clients.append(thief)
            thief.publish("hall/hall-a/rating/rp-1/heartbeat", stolen.encode())
        # The victims' own round trips after every theft: a taken session would have closed their
        # connection (and fired their wills) before these acknowledgements.
        gateway.publish("hall/hall-a/gateway/status", b"still here")
        lockbox.publish("hall/hall-a/lockbox/lb-1/heartbeat", b"still here")
        wait_for(lambda: len(watcher.got) >= 6, what="the thief's and the victims' messages")
        assert (gateway.connects, gateway.disconnects) == (1, [])
        assert (lockbox.connects, lockbox.disconnects) == (1, [])
        assert all(b"offline" not in payload for _, payload in watcher.got), watcher.got  # no will fired
        # Each thief's connection became a new connection of rp-1, taking over rp-1's own session.
        thieves = clients[3:]
        assert [t.connects for t in thieves] == [1, 1, 1, 1]
        assert all(t.disconnects for t in thieves[:-1]), [t.disconnects for t in thieves]
        log = (mqtt.folder / "mosquitto.log").read_text()
        assert log.count("as rp-1 (") == 4 and " as lb-1 (" in log and " as hallgate-a (" in log, log[-3000:]
    finally:
        for c in clients:
            c.close()


def test_a_device_cannot_write_under_another_hall_or_kind(broker: tuple) -> None:
    mqtt, _, _ = broker
    gw_a = Client(mqtt.port, "hallgate-a", "gw-a")
    gw_b = Client(mqtt.port, "hallgate-b", "gw-b")
    pad = Client(mqtt.port, "rp-1", "rating-rp-1")  # hall-a's pad
    pad_b = Client(mqtt.port, "hall-b-rp-1", "rating-rp-1")  # hall-b's, same device id
    lockbox = Client(mqtt.port, "lb-1", "lockbox-lb-1")
    clients = [gw_a, gw_b, pad, pad_b, lockbox]
    try:
        gw_a.subscribe("hall/hall-a/#")
        gw_b.subscribe("hall/hall-b/#")
        for topic in (
            "hall/hall-b/rating/rp-1/event",  # its id, another hall
            "hall/hall-a/lockbox/rp-1/event",  # its hall and id, another kind
            "hall/hall-a/rating/rp-2/event",  # another device's
            "hall/hall-a/lockbox/lb-1/event",  # the lockbox's
            "hall/hall-a/lockbox/lb-1/cmd",  # a command to the lockbox
            "hall/hall-a/gateway/status",  # the gateway's
        ):
            pad.publish(topic, b"not mine")
        lockbox.publish("hall/hall-b/lockbox/lb-1/event", b"not mine")
        pad.publish("hall/hall-a/rating/rp-1/event", b"mine")
        pad_b.publish("hall/hall-b/rating/rp-1/event", b"mine")
        # Each marker is acknowledged after the publishes before it were routed: they would be first.
        wait_for(lambda: gw_a.got and gw_b.got, what="both pads' own messages")
        assert gw_a.got == [("hall/hall-a/rating/rp-1/event", b"mine")]
        assert gw_b.got == [("hall/hall-b/rating/rp-1/event", b"mine")]
    finally:
        for c in clients:
            c.close()


def test_a_gateway_cannot_read_another_hall_and_a_device_only_its_commands(broker: tuple) -> None:
    mqtt, _, _ = broker
    gw_a = Client(mqtt.port, "hallgate-a", "gw-a")
    gw_b = Client(mqtt.port, "hallgate-b", "gw-b")
    pad_b = Client(mqtt.port, "hall-b-rp-1", "rating-rp-1")
    lockbox = Client(mqtt.port, "lb-1", "lockbox-lb-1")
    clients = [gw_a, gw_b, pad_b, lockbox]
    try:
        gw_a.subscribe("hall/hall-b/#", "hall/#")  # granted: Mosquitto checks each message it would deliver
        gw_b.subscribe("hall/hall-b/#")
        lockbox.subscribe("hall/#")
        pad_b.publish("hall/hall-b/rating/rp-1/event", b"hall b")
        gw_b.publish("hall/hall-b/gateway/status", b"hall b")
        gw_a.publish("hall/hall-a/lockbox/lb-1/cmd", b"unlock 1")  # the gateway writes commands
        lockbox.publish("hall/hall-a/lockbox/lb-1/event", b"hall a")
        wait_for(lambda: len(gw_b.got) >= 2 and lockbox.got and len(gw_a.got) >= 2, what="each reader's own messages")
        assert gw_a.got == [
            ("hall/hall-a/lockbox/lb-1/cmd", b"unlock 1"),
            ("hall/hall-a/lockbox/lb-1/event", b"hall a"),
        ]
        assert lockbox.got == [("hall/hall-a/lockbox/lb-1/cmd", b"unlock 1")]  # not its own events, nor hall b
    finally:
        for c in clients:
            c.close()


def test_the_gateway_and_two_workers_take_the_halls_messages(tmp_path: Path, broker: tuple) -> None:
    """Each worker logs in as a user of its own (`hallgate-a-w1`, `-w2`): with one shared user the
    broker, binding client ids to users, would have them take each other's session."""
    mqtt, a, _ = broker
    cfg = a.read_text().replace("port: 1883", f"port: {mqtt.port}")
    a.write_text(cfg)
    api = "http://127.0.0.1:" + cfg.split("port: ", 1)[1].split("}", 1)[0]
    log = tmp_path / "gateway.log"
    env = dict(ENV, MQTT_A=PASSWORD["hallgate-a"])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(a)], stdout=out, stderr=out, env=env
        )
    pad = None
    try:

        def workers() -> dict[str, Any]:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"{api}/readyz", timeout=5).json()["detail"].get("workers", {})
            except httpx.HTTPError:
                return {}

        wait_for(lambda: len(w := workers()) == 2 and all(s and s["mqtt"]["connected"] for s in w.values()),
                 timeout=30, what="both ingest workers connected")  # fmt: skip
        pad = Client(mqtt.port, "rp-1", "rating-rp-1")
        for seq in range(200):
            event = {"seq": seq, "ts": "2026-12-01T10:00:00+08:00", "type": "unrated", "window": "W01",
                     "staff_id": "S1", "ticket": f"A{seq:03d}", "item": "x"}  # fmt: skip
            pad.publish("hall/hall-a/rating/rp-1/event", json.dumps(event).encode())
        wait_for(lambda: sum(s["mqtt"]["messages_in"] for s in workers().values()) >= 200, timeout=30,
                 what="200 events taken by the workers")  # fmt: skip
        took = workers()
        assert all(s["mqtt"]["messages_in"] > 0 for s in took.values()), took  # each took a share
        assert all(s["mqtt"]["connects"] == 1 for s in took.values()), took  # no one took a session
        text = (mqtt.folder / "mosquitto.log").read_text()
        for user in ("hallgate-a", "hallgate-a-w1", "hallgate-a-w2"):
            assert text.count(f" as {user} (") == 1, (user, text[-3000:])
    finally:
        if pad is not None:
            pad.close()
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()[-3000:]


def test_users_shared_between_halls_are_refused(tmp_path: Path) -> None:
    a = hall_yaml(tmp_path, "hall-a", "hallgate-a", HALL_A)
    b = hall_yaml(tmp_path, "hall-b", "hallgate-a", HALL_B.replace(", mqtt: {username: hall-b-rp-1}", ""))
    made = broker_config(a, b)
    assert made.returncode == 1 and made.stdout == ""
    assert "broker_config_invalid" in made.stderr
    assert "hall-b: broker.username: 代理用户 'hallgate-a' 与 hall-a: broker.username 重名" in made.stderr
    assert "hall-b: devices[0] (id rp-1).mqtt.username: 代理用户 'rp-1'" in made.stderr, made.stderr
    alone = broker_config(b)
    assert alone.returncode == 0 and "user rp-1\n" in alone.stdout, alone.stderr


def test_the_example_files_are_what_broker_config_makes_for_the_template(tmp_path: Path) -> None:
    """configs/mosquitto is `hallgate broker-config` of configs/hall-template.yaml for hall-07."""
    env = dict(ENV, **env_file(CONFIGS_DIR / "systemd" / "hall-07.env.example"), HALLGATE_SITE="hall-07")
    args = [str(HALLGATE), "broker-config", "-c", str(CONFIGS_DIR / "hall-template.yaml"), "--out", str(tmp_path)]
    made = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert made.returncode == 0, made.stderr
    for name in ("hallgate.conf", "hallgate.acl"):
        assert (tmp_path / name).read_text() == (CONFIGS_DIR / "mosquitto" / name).read_text(), (
            f"configs/mosquitto/{name} differs: run `hallgate broker-config` as this test does, --out configs/mosquitto"
        )
    conf = (tmp_path / "hallgate.conf").read_text().splitlines()
    for line in ("per_listener_settings false", "allow_anonymous false"):
        assert line in conf
    # A listener's own setting: every listener (the TLS one too, commented out) binds ids to users.
    listeners = "\n".join(line for line in conf if line.lstrip("#").startswith(("listener ", "use_username_as")))
    assert listeners == (
        "listener 1883 0.0.0.0\nuse_username_as_clientid true\n#listener 8883 0.0.0.0\n#use_username_as_clientid true"
    )
    acl = (tmp_path / "hallgate.acl").read_text()
    assert not [line for line in acl.splitlines() if line.startswith("pattern")]
    assert "user lb-1f\ntopic read hall/hall-07/lockbox/lb-1f/cmd\ntopic write hall/hall-07/lockbox/lb-1f/#\n" in acl


def test_a_device_outside_the_halls_tree_and_a_gateway_without_a_user(tmp_path: Path) -> None:
    """A device with a vendor's topic base writes only under it (and reads its commands there); the
    gateway and its workers may read it, the gateway write its commands. No gateway user: an error."""
    devices = "  - {id: lb-9, kind: lockbox, profile: ref-lockbox, slots: 4, mqtt: {topic: vendor/cab/lb-9}}\n"
    a = hall_yaml(tmp_path, "hall-a", "hallgate-a", devices, workers=2)
    made = broker_config(a)
    assert made.returncode == 0, made.stderr
    blocks = {b.split("\n")[1]: b.split("\n")[2:] for b in made.stdout.split("\n\n") if "\nuser " in b}
    assert blocks["user lb-9"] == ["topic read vendor/cab/lb-9/cmd", "topic write vendor/cab/lb-9/#"]
    assert blocks["user hallgate-a"] == [
        "topic readwrite hall/hall-a/#",
        "topic read vendor/cab/lb-9/#",
        "topic write vendor/cab/lb-9/cmd",
    ]
    assert blocks["user hallgate-a-w2"] == ["topic read hall/hall-a/#", "topic read vendor/cab/lb-9/#"]
    a.write_text(a.read_text().replace("username: hallgate-a, ", ""))
    made = broker_config(a)
    assert made.returncode == 1 and "hall-a: broker.username: 网关需要一个代理用户" in made.stderr
