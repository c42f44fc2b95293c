"""The district's per-site credentials (`hallgate district-auth`), with the real vmauth and
victoria-metrics of Debian's package and a real Mosquitto: a site writes only, and only as itself
(whatever `site` it sends); the view reads only; a wrong password is refused; at the district
broker a site's bridge publishes only under its own `hall/{id}/` and reads nothing."""

from __future__ import annotations

import asyncio
import getpass
import json
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.cli import main as hallgate
from gateway.store.district import DistrictSink
from gateway.store.errors import SinkAuth
from gateway.store.sinks import InfluxV1Sink
from gateway.store.vouch import Vouch
from tests.servers import VictoriaMetrics, VMAuth, _Process, free_port, require_binary, wait_for_port
from tests.waits import wait_for

PASSWORDS = {"centre": "pw-centre", "town-a": "pw-town-a", "village-b": "pw-village-b", "view": "pw-view"}


def district_yaml(folder: Path, backend: str, broker_port: int) -> Path:
    path = folder / "district.yaml"
    path.write_text(f"""
name: 测试区政务服务管理办公室
store: {{url: "http://127.0.0.1:1", backend: "{backend}", username: view, password_env: PW_VIEW}}
broker: {{host: 127.0.0.1, port: {broker_port}, username: view, password_env: PW_VIEW}}
sites:
  - {{id: centre, name: 区政务服务中心, level: centre, password_env: PW_CENTRE}}
  - {{id: town-a, name: 甲镇便民服务中心, level: town, password_env: PW_TOWN_A}}
  - {{id: village-b, name: 乙村便民服务站, level: village, parent: town-a, password_env: PW_VILLAGE_B}}
""")
    return path


class DistrictBroker(_Process):
    """Mosquitto with the generated password file and ACL, no anonymous clients."""

    def __init__(self, folder: Path, port: int, generated: Path) -> None:
        super().__init__(folder, "district-broker")
        self.port = port
        (folder / "mosquitto.conf").write_text(
            f"per_listener_settings false\nallow_anonymous false\nuser {getpass.getuser()}\n"
            f"password_file {generated / 'district-broker.passwd'}\nacl_file {generated / 'district-broker.acl'}\n"
            f"listener {port} 127.0.0.1\n"
        )

    def _command(self) -> list[str]:
        return [require_binary("mosquitto"), "-c", str(self.folder / "mosquitto.conf")]

    def _wait_ready(self) -> None:
        wait_for_port(self.port)


@dataclass
class District:
    vm: VictoriaMetrics
    vmauth: VMAuth
    broker: DistrictBroker
    generated: Path


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    folder = tmp_path_factory.mktemp("district")
    mp = pytest.MonkeyPatch()
    for user, pw in PASSWORDS.items():
        mp.setenv(f"PW_{user.upper().replace('-', '_')}", pw)
    (folder / "vm").mkdir()
    vm = VictoriaMetrics(folder / "vm", ["-search.latencyOffset=0s", "-search.disableCache"])  # read at once
    broker_port = free_port()
    generated = folder / "generated"
    try:
        assert (
            hallgate(["district-auth", "-c", str(district_yaml(folder, vm.url, broker_port)), "--out", str(generated)])
            == 0
        )
    finally:
        mp.undo()
    (folder / "vmauth").mkdir()
    (folder / "broker").mkdir()
    vmauth = VMAuth(folder / "vmauth", generated / "vmauth.yml")
    broker = DistrictBroker(folder / "broker", broker_port, generated)
    started: list[_Process] = []
    try:
        for p in (vm, vmauth, broker):
            p.start()
            started.append(p)
        yield District(vm, vmauth, broker, generated)
    finally:
        for p in reversed(started):
            p.stop()


def now_ms() -> int:
    return time.time_ns() // 10**6


def labels(vm: VictoriaMetrics, name: str) -> list[dict[str, str]]:
    return sorted((s["metric"] for s in vm.export(f'{{__name__="{name}"}}')), key=json.dumps)


def test_the_secret_files_are_private_and_the_acl_names_every_site(district: District) -> None:
    for name in ("vmauth.yml", "district-broker.passwd"):
        assert stat.S_IMODE((district.generated / name).stat().st_mode) == 0o600, name
    acl = (district.generated / "district-broker.acl").read_text()
    assert "user village-b\ntopic write hall/village-b/#" in acl
    assert "pw-" not in (district.generated / "district-broker.passwd").read_text()  # hashed


def test_a_site_sending_another_sites_label_lands_as_itself_with_its_level(district: District) -> None:
    url, ts = district.vmauth.url, now_ms()
    auth = ("town-a", PASSWORDS["town-a"])
    # The line protocol with site=village-b, and vmauth's own parameter tried by the site as well.
    r = httpx.post(f"{url}/write", auth=auth, content=f"relabel_t,site=village-b,n=1 v=1 {ts}000000")
    assert r.status_code == 204, r.text
    r = httpx.post(
        f"{url}/write", params={"extra_label": "site=village-b"}, auth=auth, content=f"relabel_t,n=2 v=1 {ts}000000"
    )
    assert r.status_code == 204, r.text
    body = json.dumps({"metric": {"__name__": "relabel_i", "site": "village-b"}, "values": [1], "timestamps": [ts]})
    r = httpx.post(f"{url}/api/v1/import", auth=auth, content=body)
    assert r.status_code == 204, r.text

    def stored() -> list[dict[str, str]] | None:
        got = labels(district.vm, "relabel_t_v") + labels(district.vm, "relabel_i")
        return got if len(got) == 3 else None

    got = wait_for(stored, what="the three points stored")
    assert [(m["__name__"], m["site"], m["level"]) for m in got] == [
        ("relabel_t_v", "town-a", "town"),
        ("relabel_t_v", "town-a", "town"),
        ("relabel_i", "town-a", "town"),
    ]


def test_a_site_cannot_read_and_the_view_cannot_write(district: District) -> None:
    url, ts = district.vmauth.url, now_ms()
    r = httpx.post(f"{url}/write", auth=("centre", PASSWORDS["centre"]), content=f"readable,n=1 v=7 {ts}000000")
    assert r.status_code == 204
    site_read = httpx.get(f"{url}/api/v1/query", params={"query": "readable_v"}, auth=("centre", PASSWORDS["centre"]))
    assert site_read.status_code == 400 and "missing route" in site_read.text  # vmauth: no read route for a site
    wait_for(lambda: labels(district.vm, "readable_v"), what="the centre's point stored")
    view = ("view", PASSWORDS["view"])

    def view_reads() -> list[dict]:
        read = httpx.get(f"{url}/api/v1/query", params={"query": "readable_v"}, auth=view)
        assert read.status_code == 200, read.text
        return read.json()["data"]["result"]  # empty for a moment after the write, now and then

    assert wait_for(view_reads, what="the view reads the point")[0]["metric"]["site"] == "centre"
    write = httpx.post(f"{url}/write", auth=view, content=f"view_wrote v=1 {ts}000000")
    assert write.status_code == 400 and "missing route" in write.text
    assert labels(district.vm, "view_wrote_v") == []  # the centre's point, sent before, is stored


def test_a_wrong_or_another_sites_password_is_refused_and_the_forwarder_keeps_its_points(district: District) -> None:
    url, ts = district.vmauth.url, now_ms()
    for user, pw in (("town-a", "wrong"), ("town-a", PASSWORDS["village-b"]), ("nobody", PASSWORDS["centre"])):
        r = httpx.post(f"{url}/write", auth=(user, pw), content=f"intruder,u={user} v=1 {ts}000000")
        # Debian's vmauth 1.79 answers an unknown login 400 "cannot find the provided auth token"
        # (newer ones 401); no login at all is 401.
        assert r.status_code in (400, 401) and "cannot find the provided auth token" in r.text, (user, r.text)
    assert httpx.post(f"{url}/write", content=f"intruder v=1 {ts}000000").status_code == 401
    r = httpx.post(f"{url}/write", auth=("centre", PASSWORDS["centre"]), content=f"intruder_marker v=1 {ts}000000")
    assert r.status_code == 204  # written after the refused ones: once it is stored, they would be too
    wait_for(lambda: labels(district.vm, "intruder_marker_v"), what="the marker stored")
    assert labels(district.vm, "intruder_v") == []

    async def forward(password: str) -> None:
        sink = InfluxV1Sink(url, None, username="town-a", password=password, create_database=False)
        try:
            with pytest.raises(SinkAuth):  # kept and retried, never dropped as a bad line
                await sink.write([f"intruder v=1 {ts}000000"])
        finally:
            await sink.close()

    asyncio.run(forward("wrong"))


def test_the_gateways_district_sink_through_vmauth_lands_under_its_login(district: District) -> None:
    """The forwarder as a gateway runs it, misconfigured to label its points village-b."""

    async def forward() -> None:
        inner = InfluxV1Sink(
            district.vmauth.url, None, username="town-a", password=PASSWORDS["town-a"], create_database=False
        )
        sink = DistrictSink(inner, "village-b", Vouch(300, 31 * 86400, 120))
        try:
            await sink.write([f"gw_probe,device=rp-1 seq=1i {time.time_ns()}"])
        finally:
            await sink.close()

    asyncio.run(forward())
    got = wait_for(lambda: labels(district.vm, "gw_probe_seq"), what="the gateway's point stored")
    assert [(m["site"], m["level"]) for m in got] == [("town-a", "town")]


class Mqtt:
    def __init__(self, port: int, user: str, pw: str) -> None:
        self.got: list[str] = []
        self.result: list[object] = []
        self.acked = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=paho.MQTTv5)
        self.c.username_pw_set(user, pw)
        self.c.on_connect = lambda c, u, f, rc, p: self.result.append(rc)
        self.c.on_message = lambda c, u, m: self.got.append(m.topic)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.acked.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        wait_for(lambda: self.result, what=f"{user}'s CONNACK")

    @property
    def refused(self) -> bool:
        return bool(getattr(self.result[0], "is_failure", False))

    def subscribe(self, topic: str) -> None:
        self.acked.clear()
        self.c.subscribe(topic, qos=1)
        assert self.acked.wait(10)

    def publish(self, topic: str) -> None:
        self.c.publish(topic, b"x", qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_at_the_district_broker_a_site_writes_only_its_own_topics_and_reads_none(district: District) -> None:
    port = district.broker.port
    wrong = Mqtt(port, "town-a", "wrong")
    assert wrong.refused
    wrong.close()
    view, a, b = (Mqtt(port, u, PASSWORDS[u]) for u in ("view", "town-a", "village-b"))
    try:
        assert not (view.refused or a.refused or b.refused)
        view.subscribe("hall/#")
        a.subscribe("hall/#")  # granted by Mosquitto, but the ACL delivers nothing to a site
        a.publish("hall/village-b/gateway/alerts")  # another site's topic: dropped
        view.publish("hall/town-a/rating/rp-1/cmd")  # the view writes nothing, not even a command
        b.publish("hall/village-b/gateway/alerts")
        a.publish("hall/town-a/gateway/alerts")  # the last: once the view has it, the rest were routed
        wait_for(lambda: "hall/town-a/gateway/alerts" in view.got, what="town-a's own alert at the view")
        assert view.got == ["hall/village-b/gateway/alerts", "hall/town-a/gateway/alerts"]
        assert a.got == []
    finally:
        for c in (view, a, b):
            c.close()


def test_district_auth_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = district_yaml(tmp_path, "http://127.0.0.1:8428", 1883)
    assert hallgate(["district-auth", "-c", str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "district_auth_invalid" in err and "sites[1].password_env" in err and "PW_TOWN_A" in err
    assert not (tmp_path / "out").exists()
