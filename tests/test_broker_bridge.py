"""The site broker's bridge to the district broker (`district.broker`, `hallgate broker-config`),
with two real Mosquittos: the site's from the generated files (as README "Deploying" installs
them), and a "district broker" on TLS with client certificates, a password file and the ACL
block broker-config makes for the site. An alert the gateway raises reaches a district
subscriber; a command published at the district does not come down (the bridge has no `in`
topic and the district ACL refuses the site's user any read); what the site publishes while
the district broker is down arrives after it is back. A 差评 work order's change and a violation's
reach the district as codes (gateway/feeds.py), the violation's person never; a district-side
publish on those topics does not come down."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.district_broker import DistrictBroker
from gateway.config.load import load_config
from tests.pki import Pki, make_pki
from tests.servers import _Process, free_port, require_binary, wait_for_port
from tests.test_broker_config import Client, broker_config
from tests.test_deploy import ExampleMosquitto
from tests.waits import wait_for

SITE = "hall-a"
UP_USER = "hall-a-up"  # the site's user at the district
UP_PASSWORD = "s3cret-up-pw"
OPS = "district-ops"  # the district's own operator: may publish anywhere under hall/
ALERTS = f"hall/{SITE}/gateway/alerts"
WORKORDERS, VIOLATIONS = f"hall/{SITE}/gateway/workorders", f"hall/{SITE}/gateway/violations"
DUTY_TOKEN = "bridge-duty-manager-token-0123456789"
CMD = f"hall/{SITE}/rating/rp-1/cmd"
SITE_USERS = {"hallgate-a": "gw-a-pw", "rp-1": "rp-1-pw"}  # tests.test_broker_config.password


class DistrictMosquitto(_Process):
    """The district broker: TLS (client certificates required) for the bridges, a plain loopback
    listener for the test's subscribers, one password file and ACL for both."""

    def __init__(self, folder: Path, pki: Pki, acl: str) -> None:
        super().__init__(folder, "district")
        self.port, self.tls_port = free_port(), free_port()
        (folder / "district.acl").write_text(acl + f"\nuser {OPS}\ntopic readwrite hall/#\n")
        passwd = require_binary("mosquitto_passwd")
        for i, (user, pw) in enumerate({UP_USER: UP_PASSWORD, OPS: "ops-pw"}.items()):
            create = ["-c"] if i == 0 else []
            subprocess.run([passwd, *create, "-b", str(folder / "district.passwd"), user, pw], check=True)
        (folder / "district.conf").write_text(
            "\n".join(
                [
                    "per_listener_settings false",
                    "allow_anonymous false",
                    f"password_file {folder}/district.passwd",
                    f"acl_file {folder}/district.acl",
                    f"user {getpass.getuser()}",
                    "persistence true",
                    # The test's subscribers take a whole catch-up at once (Mosquitto's default: 1,000).
                    "max_queued_messages 0",
                    f"persistence_location {folder}/",
                    f"listener {self.port} 127.0.0.1",
                    f"listener {self.tls_port} 127.0.0.1",
                    f"cafile {pki.ca}",
                    f"certfile {pki.server_cert}",
                    f"keyfile {pki.server_key}",
                    "require_certificate true",
                ]
            )
            + "\n"
        )

    def _command(self) -> list[str]:
        return [require_binary("mosquitto"), "-c", str(self.folder / "district.conf")]

    def _wait_ready(self) -> None:
        wait_for_port(self.port)
        wait_for_port(self.tls_port)


def district_client(port: int, user: str, password: str, client_id: str) -> Client:
    return Client(port, user, client_id, secret=password)


def hall_yaml(folder: Path, pki: Pki, district_port: int, broker_port: int = 1883) -> Path:
    (folder / "district.pw").write_text(UP_PASSWORD + "\n")
    path = folder / f"{SITE}.yaml"
    path.write_text(f"""
site: {SITE}
api: {{host: 127.0.0.1, port: {free_port()}, tokens: [{{role: duty_manager, env: BRIDGE_DUTY, name: zhao.duty}}]}}
staff:
  - {{id: S0001, name: 王小明, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 医保科}}
broker: {{host: 127.0.0.1, port: {broker_port}, protocol: 5, username: hallgate-a, password_env: MQTT_A}}
store: {{path: {folder}/state/outbox.sqlite, flush_interval_s: 0.2}}
influx: {{api: none}}
district:
  broker:
    host: 127.0.0.1
    port: {district_port}
    username: {UP_USER}
    password_file: {folder}/district.pw
    max_queued_messages: 1000
    up: [alerts, status, devices, workorders, violations, "hall/{SITE}/rating/#"]  # the pad's commands: out only
    tls: {{ca_file: {pki.ca}, cert_file: {pki.client_cert}, key_file: {pki.client_key}}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}
""")
    return path


@dataclass
class Pair:
    site: ExampleMosquitto
    district: DistrictMosquitto
    hall: Path
    generated: Path


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    pki = make_pki(tmp_path / "pki")
    hall = hall_yaml(tmp_path, pki, free_port())  # the district's port is known once it is made
    made = broker_config(hall, out=tmp_path / "generated")
    assert made.returncode == 0, made.stderr
    acl = (tmp_path / "generated" / f"district-{SITE}.acl").read_text()
    (tmp_path / "district").mkdir()
    district = DistrictMosquitto(tmp_path / "district", pki, acl)
    hall = hall_yaml(tmp_path, pki, district.tls_port)
    made = broker_config(hall, out=tmp_path / "generated")
    assert made.returncode == 0, made.stderr
    (tmp_path / "site").mkdir()
    site = ExampleMosquitto(tmp_path / "site", SITE_USERS, source=tmp_path / "generated")
    hall = hall_yaml(tmp_path, pki, district.tls_port, broker_port=site.port)  # the gateway's port
    district.start()
    site.start()
    try:
        yield Pair(site, district, hall, tmp_path / "generated")
    finally:
        site.stop()
        district.stop()


def bridge_up(pair: Pair) -> Client:
    """A district subscriber to the site's topics, once the bridge says it is up (retained `1`)."""
    sub = district_client(pair.district.port, OPS, "ops-pw", "ops-sub")
    sub.subscribe(f"hall/{SITE}/#")
    wait_for(lambda: (f"hall/{SITE}/bridge/state", b"1") in sub.got, timeout=60, what="the bridge up")
    return sub


def test_the_generated_files_start_mosquitto_and_hold_the_password_only_in_the_file(pair: Pair) -> None:
    conf = pair.generated / "hallgate-bridge.conf"
    text = conf.read_text()
    assert f"remote_password {UP_PASSWORD}\n" in text
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    # Nothing comes down: every topic line is `out`.
    topics = [line.split() for line in text.splitlines() if line.startswith("topic ")]
    assert topics and all(t[2] == "out" for t in topics), topics
    acl = (pair.generated / f"district-{SITE}.acl").read_text().splitlines()
    assert f"topic write {WORKORDERS}" in acl and f"topic write {VIOLATIONS}" in acl
    assert [t[1] for t in topics if t[1].startswith(f"hall/{SITE}/gateway/")] == [
        ALERTS,
        f"hall/{SITE}/gateway/status",
        WORKORDERS,
        VIOLATIONS,
    ]
    default = DistrictBroker(host="district.example", password_env="X").up
    assert "workorders" in default and "violations" in default
    bridge_up(pair).close()
    # Printed, the password is a placeholder.
    printed = broker_config(pair.hall)
    assert printed.returncode == 0, printed.stderr
    assert UP_PASSWORD not in printed.stdout
    assert f"remote_password <password from {pair.hall.parent}/district.pw>" in printed.stdout
    # `mosquitto -c FILE` with the bridge file alone (as the district's tools would check it).
    alone = pair.site.folder / "alone.conf"
    alone.write_text(f"listener {free_port()} 127.0.0.1\nuser {getpass.getuser()}\n" + conf.read_text())
    proc = subprocess.Popen([require_binary("mosquitto"), "-c", str(alone)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(int(alone.read_text().split()[1]))
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_alert_the_gateway_raises_reaches_the_district(pair: Pair) -> None:
    sub = bridge_up(pair)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLGATE_")}
    env |= {"MQTT_A": "gw-a-pw", "BRIDGE_DUTY": DUTY_TOKEN}
    log = (pair.hall.parent / "gateway.log").open("wb")
    gw = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(pair.hall)], stdout=log, stderr=log, env=env
    )
    try:
        wait_for(
            lambda: any(t == f"hall/{SITE}/gateway/status" and b"online" in p for t, p in sub.got),
            timeout=60,
            what="the gateway's status at the district",
        )
        pad = Client(pair.site.port, "rp-1", "rp-1")
        pad.publish(f"hall/{SITE}/rating/rp-1/status", json.dumps({"state": "online", "fw": "1"}).encode())
        pad.publish(f"hall/{SITE}/rating/rp-1/status", json.dumps({"state": "offline"}).encode())
        pad.close()

        def offline_alert() -> bool:
            return any(t == ALERTS and b"device_offline" in p and b"rp-1" in p for t, p in sub.got)

        wait_for(offline_alert, timeout=60, what="the gateway's device_offline alert at the district")

        # A 差评 opens a work order; a duty manager records a violation of 李红 (S0002).
        pad = Client(pair.site.port, "rp-1", "rp-1")
        rating = {"type": "rated", "seq": 1, "ts": datetime.now(UTC).isoformat(), "window": "W01", "staff_id": "S0001"}
        pad.publish(f"hall/{SITE}/rating/rp-1/event", json.dumps(rating | {"score": 1}).encode())
        pad.close()
        api = f"http://127.0.0.1:{load_config(pair.hall, env).api.port}/api/v1/violations"
        body = {"staff_id": "S0002", "kind": "违规使用手机", "note": "李红在窗口看手机"}
        r = httpx.post(api, json=body, headers={"Authorization": f"Bearer {DUTY_TOKEN}"}, timeout=30)
        assert r.status_code == 201, r.text

        def change(topic: str) -> dict[str, Any] | None:
            found = [b for t, p in list(sub.got) if t == topic and (b := json.loads(p))["type"] == "change"]
            return found[0] if found else None

        order = wait_for(lambda: change(WORKORDERS), timeout=60, what="the work order at the district")
        assert (order["event"], order["window"], order["department"]) == ("opened", "W01", "社保科")
        violation = wait_for(lambda: change(VIOLATIONS), timeout=60, what="the violation at the district")
        assert (violation["id"], violation["event"], violation["department"]) == (r.json()["id"], "recorded", "医保科")
        wait_for(
            lambda: any(t == VIOLATIONS and b'"summary"' in p and b'"open":1' in p for t, p in sub.got),
            timeout=60,
            what="the violations' summary after it",
        )
        # The violation's person is on no topic at the district; the feeds name nobody at all.
        everything = b"".join(p for _, p in sub.got).decode()
        assert "李红" not in everything and "S0002" not in everything
        feeds = b"".join(p for t, p in sub.got if t in (WORKORDERS, VIOLATIONS)).decode()
        assert "王小明" not in feeds and "S0001" not in feeds and "看手机" not in feeds
    finally:
        gw.terminate()
        gw.wait(30)
        log.close()
        sub.close()


def test_a_command_published_at_the_district_does_not_come_down(pair: Pair) -> None:
    sub = bridge_up(pair)
    pad = Client(pair.site.port, "rp-1", "rp-1")  # the device reads its command topic at the site
    assert not pad.subscribe(CMD)[0].is_failure
    spy = district_client(pair.district.port, UP_USER, UP_PASSWORD, "spy")  # the site's user there
    spy.subscribe(CMD)  # granted: Mosquitto 2.0 checks read access when it delivers
    ops = district_client(pair.district.port, OPS, "ops-pw", "ops-pub")
    gw = Client(pair.site.port, "hallgate-a", "hallgate-a")  # the gateway's user reads its feeds at the site
    gw.subscribe(WORKORDERS, VIOLATIONS)
    ops.publish(CMD, b'{"cmd":"reboot"}')
    for topic in (WORKORDERS, VIOLATIONS):  # a district-side summary would mislead the site's own readers
        ops.publish(topic, b'{"type":"summary","open":99}')
    wait_for(lambda: (CMD, b'{"cmd":"reboot"}') in sub.got, what="the command routed at the district")
    # Routed to every subscriber at once: one for the spy would be on its socket before the
    # answer to anything it asks after, so one more SUBACK bounds the wait.
    spy.subscribe(f"hall/{SITE}/bridge/state")
    assert spy.got == [], "the district ACL let the site's user read"
    # A message up after the command: once it is at the district, the bridge has passed the
    # point where a command coming down would have been delivered. (A third wall: the bridge has
    # no user at the site, so the site ACL drops what it would bring down: seen with `both`.)
    gw.publish(ALERTS, b'{"marker":1}')
    wait_for(lambda: (ALERTS, b'{"marker":1}') in sub.got, timeout=30, what="the marker at the district")
    assert [m for m in pad.got if m[0] == CMD] == []
    assert gw.got == [], "a district-side publish on the feeds came down"
    for c in (sub, pad, ops, spy, gw):
        c.close()


def test_what_the_site_publishes_while_the_district_is_down_arrives_after(pair: Pair) -> None:
    sub = bridge_up(pair)  # a persistent session (clean_start false, expiry 1 h) on the district
    sub.c.disconnect()
    sub.c.loop_stop()
    pair.district.stop()
    gw = Client(pair.site.port, "hallgate-a", "hallgate-a")
    sent = [json.dumps({"n": i}).encode() for i in range(200)]
    for p in sent:
        gw.publish(ALERTS, p)
    gw.close()
    pair.district.start()
    sub = district_client(pair.district.port, OPS, "ops-pw", "ops-sub")

    def arrived() -> list[bytes]:  # QoS 1 is at least once: a resend after the restart may repeat one
        return list(dict.fromkeys(p for t, p in sub.got if t == ALERTS))

    wait_for(lambda: arrived() == sent, timeout=60, what="the 200 queued alerts, in order")
    sub.close()


def test_mistakes_in_district_broker_are_named_by_file_and_field(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    hall = hall_yaml(tmp_path, pki, free_port())
    text = hall.read_text()
    cases = {
        "cert without key": (
            f"key_file: {pki.client_key}}}",
            "}",
            "district.broker.tls",
            "cert_file 与 key_file 须同时给出",
        ),
        "two passwords": (
            f"password_file: {tmp_path}/district.pw",
            f"password_file: {tmp_path}/district.pw\n    password_env: UP_PW",
            "district.broker",
            "password_env 与 password_file 只填一个",
        ),
        "another site's topic": (
            '"hall/{SITE}/rating/#"'.replace("{SITE}", SITE),
            "hall/hall-b/rating/#",
            "up[5]",
            "不在 hall/hall-a/ 之下",
        ),
        "no password file": (f"{tmp_path}/district.pw", f"{tmp_path}/missing.pw", "password_file", "无法读取"),
    }
    for name, (old, new, where, what) in cases.items():
        assert old in text, name
        hall.write_text(text.replace(old, new))
        made = broker_config(hall, out=tmp_path / name.replace(" ", "-"))
        assert made.returncode == 1, name
        assert str(hall) in made.stderr or "broker_config_invalid" in made.stderr, made.stderr
        assert where in made.stderr and what in made.stderr, (name, made.stderr)


def test_a_cut_longer_than_the_queue_sends_the_first_messages_up_to_the_limit(pair: Pair) -> None:
    """hallgate.conf: max_queued_messages 10000 (district.broker's 1,000 is below that floor):
    while the link is down the bridge's session keeps the first 10,000 and drops the rest, and
    those go up after; the site broker never grows without bound."""
    conf = (pair.generated / "hallgate.conf").read_text().splitlines()
    assert "max_queued_messages 10000" in conf
    sub = bridge_up(pair)
    sub.c.disconnect()
    sub.c.loop_stop()
    pair.district.stop()
    gw = Client(pair.site.port, "hallgate-a", "hallgate-a")
    sent = [str(i).encode() for i in range(10_300)]
    infos = [gw.c.publish(ALERTS, p, qos=1) for p in sent]
    for info in infos:
        info.wait_for_publish(60)
    gw.close()
    pair.district.start()
    sub = district_client(pair.district.port, OPS, "ops-pw", "ops-sub")

    def arrived() -> list[bytes]:
        return list(dict.fromkeys(p for t, p in sub.got if t == ALERTS))

    wait_for(lambda: len(arrived()) >= 10_000, timeout=60, what="the queued alerts")
    # One round trip more: anything else still on its way would come before this SUBACK's answer.
    gw = Client(pair.site.port, "hallgate-a", "hallgate-a")
    gw.publish(ALERTS, b"after")
    wait_for(lambda: (ALERTS, b"after") in sub.got, timeout=60, what="a message after the cut")
    assert arrived() == [*sent[:10_000], b"after"]
    gw.close()
    sub.close()
