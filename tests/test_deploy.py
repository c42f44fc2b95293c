"""What a hall installs: the `hallgate` command's version, the systemd unit (checked by
systemd-analyze itself, and its command lines run as the unit runs them, against Mosquitto and
InfluxDB started from the example configurations) and the hall template with a site's overrides."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client
import paho.mqtt.publish
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.paths import CONFIGS_DIR
from tests.servers import _Process, free_port, require_binary, wait_for_http, wait_for_port
from tests.waits import until


def wait(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    return asyncio.run(until(check, timeout, what))


UNIT = CONFIGS_DIR / "systemd" / "hallgate@.service"
HALLGATE = Path(sys.executable).parent / "hallgate"  # the installed console script


def test_hallgate_version() -> None:
    from importlib.metadata import version

    r = subprocess.run([HALLGATE, "--version"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout.strip()) == (0, f"hallgate {version('hallgate')}")


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run .ci/setup (Debian package systemd)"
    text = UNIT.read_text()
    # verify checks that ExecStart's program exists: point it at this checkout's hallgate.
    (tmp_path / UNIT.name).write_text(text.replace("/opt/hallgate/bin/hallgate", str(HALLGATE)))
    r = subprocess.run(
        [analyze, "verify", str(tmp_path / "hallgate@hall-07.service")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr  # warnings too: an unknown key is silently ignored
    for line in (
        "Restart=on-failure",
        "User=hallgate",
        "StateDirectory=hallgate/%i",
        "LogsDirectory=hallgate/%i",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "LimitNOFILE=65536",  # hundreds of devices and screens pass the default 1024 descriptors
    ):
        assert line in text.splitlines(), line


def test_the_hall_template_with_a_sites_overrides_checks_out() -> None:
    env = dict(os.environ, HALLGATE_SITE="hall-07")
    for line in (CONFIGS_DIR / "systemd" / "hall-07.env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    r = subprocess.run(
        [HALLGATE, "check-config", str(CONFIGS_DIR / "hall-template.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "站点 hall-07，3 个区域，30 台设备" in r.stdout
    assert "note:" not in r.stdout  # every secret the template names is in the example


SITE = "hall-07"


class ExampleMosquitto(_Process):
    """Debian's Mosquitto as installed (its own /etc/mosquitto/mosquitto.conf, which includes
    conf.d/) with configs/mosquitto/ added as README "Deploying" says; every path moved into
    `folder`, a loopback port, run as this user (the packaged service runs it as `mosquitto`).
    `source`: the folder of hallgate.conf and hallgate.acl (`hallgate broker-config --out`), and
    hallgate-bridge.conf when it made one."""

    def __init__(self, folder: Path, users: dict[str, str], source: Path = CONFIGS_DIR / "mosquitto") -> None:
        super().__init__(folder, "mosquitto")
        self.port = free_port()

        def here(text: str) -> str:
            for path in ("/etc/mosquitto/", "/var/lib/mosquitto/", "/var/log/mosquitto/", "/run/mosquitto/"):
                text = text.replace(path, f"{folder}/")
            return text

        main = Path("/etc/mosquitto/mosquitto.conf")
        assert main.exists(), "Debian's mosquitto package is missing: run .ci/setup"
        (folder / "conf.d").mkdir()
        (folder / "mosquitto.conf").write_text(here(main.read_text()) + f"\nuser {getpass.getuser()}\n")
        text = here((source / "hallgate.conf").read_text())
        (folder / "conf.d" / "hallgate.conf").write_text(
            text.replace("listener 1883 0.0.0.0", f"listener {self.port} 127.0.0.1")
        )
        shutil.copy(source / "hallgate.acl", folder)
        if (source / "hallgate-bridge.conf").exists():  # made when the hall has district.broker
            shutil.copy(source / "hallgate-bridge.conf", folder / "conf.d")
        passwd = require_binary("mosquitto_passwd")
        for i, (user, password) in enumerate(users.items()):
            create = ["-c"] if i == 0 else []  # as the config's comment says: -c for the first user only
            args = [passwd, *create, "-b", str(folder / "hallgate.passwd"), user, password]
            subprocess.run(args, check=True, capture_output=True)

    def _command(self) -> list[str]:
        return [require_binary("mosquitto"), "-c", str(self.folder / "mosquitto.conf")]

    def _wait_ready(self) -> None:
        wait_for_port(self.port)


class ExampleInfluxDB(_Process):
    """InfluxDB 1.x from configs/influxdb/influxdb.conf, its folders in `folder`, loopback ports."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "influxd")
        self.port, rpc = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        text = (CONFIGS_DIR / "influxdb" / "influxdb.conf").read_text()
        text = text.replace("/var/lib/influxdb/", f"{folder}/")
        text = text.replace("127.0.0.1:8086", f"127.0.0.1:{self.port}").replace("127.0.0.1:8088", f"127.0.0.1:{rpc}")
        (folder / "influxdb.conf").write_text(text)

    def _command(self) -> list[str]:
        return [require_binary("influxd"), "-config", str(self.folder / "influxdb.conf")]

    def _wait_ready(self) -> None:
        wait_for_http(f"{self.url}/ping", 204)

    def query(self, q: str, user: str, password: str, db: str = "", write: bool = False) -> httpx.Response:
        auth = urllib.parse.urlencode({"u": user, "p": password, **({"db": db} if db else {})})
        return httpx.post(f"{self.url}/query?{auth}", data={"q": q}, timeout=10)


def influx_setup_statements() -> list[str]:
    """The statements the example configuration's header says to run after the first start."""
    text = (CONFIGS_DIR / "influxdb" / "influxdb.conf").read_text()
    return re.findall(r"^#\s+((?:CREATE|GRANT) .*?)\s*$", text, flags=re.MULTILINE)


def unit_service() -> list[tuple[str, str]]:
    """The [Service] section's settings in order (keys repeat: Environment, EnvironmentFile...)."""
    out, section = [], ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


def env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


@pytest.fixture
def hall_box(tmp_path: Path) -> Iterator[tuple[ExampleMosquitto, ExampleInfluxDB, dict[str, str]]]:
    """A hall's box as README "Deploying" sets it up: Mosquitto and InfluxDB from the example
    configurations, with the users and passwords of the example site file."""
    site_env = env_file(CONFIGS_DIR / "systemd" / "hall-07.env.example")
    (tmp_path / "mosquitto").mkdir()
    (tmp_path / "influxdb").mkdir()
    mqtt = ExampleMosquitto(
        tmp_path / "mosquitto", {"hallgate": site_env["HALLGATE_MQTT_PASSWORD"], "rp-w01": "pad-pw"}
    )
    influx = ExampleInfluxDB(tmp_path / "influxdb")
    mqtt.start()
    try:
        influx.start()
        try:
            yield mqtt, influx, site_env
        finally:
            influx.stop()
    finally:
        mqtt.stop()


def test_the_example_broker_and_influxdb_configs_do_what_they_say(hall_box: tuple) -> None:
    mqtt, influx, site_env = hall_box
    pub = require_binary("mosquitto_pub")
    base = ["-h", "127.0.0.1", "-p", str(mqtt.port)]
    # No anonymous clients.
    r = subprocess.run([pub, *base, "-t", "hall/hall-07/rating/rp-w01/status", "-m", "x"], capture_output=True)
    assert r.returncode != 0 and b"not authorised" in r.stderr, r.stderr
    # The gateway reads hall/#; a device writes only under its own id (the ACL drops the rest).
    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    gw = paho.mqtt.client.Client(CallbackAPIVersion.VERSION2, client_id="acl-check")
    gw.username_pw_set("hallgate", site_env["HALLGATE_MQTT_PASSWORD"])
    gw.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    gw.on_subscribe = lambda *a: subscribed.set()
    gw.connect("127.0.0.1", mqtt.port)
    gw.loop_start()
    try:
        gw.subscribe("hall/#", qos=1)
        wait(subscribed.is_set, what="the gateway user's subscription")
        device = [*base, "-u", "rp-w01", "-P", "pad-pw", "-q", "1"]
        subprocess.run([pub, *device, "-t", "hall/hall-07/rating/rp-w02/event", "-m", "not mine"], check=True)
        subprocess.run([pub, *device, "-t", "hall/hall-07/rating/rp-w01/event", "-m", "mine"], check=True)
        wait(lambda: got, what="the device's own message")  # in order: "not mine" would be first
    finally:
        gw.disconnect()
        gw.loop_stop()
    assert got == [("hall/hall-07/rating/rp-w01/event", b"mine")]

    # InfluxDB: authentication on; the users of the configuration's own instructions.
    assert "create admin user first" in influx.query("SHOW DATABASES", "", "").text
    for statement in influx_setup_statements():
        password = site_env["HALLGATE_INFLUX_PASSWORD"] if "USER hallgate" in statement else "grafana-pw"
        statement = statement.replace("'...'", f"'{password if 'admin' not in statement else 'admin-pw'}'")
        r = influx.query(statement, "admin", "admin-pw")
        assert r.status_code == 200 and "error" not in r.text, (statement, r.text)
    line = "device_status,site=hall-07,device=rp-w01 online=true"
    write = "/write?" + urllib.parse.urlencode(
        {"db": "hallgate", "u": "hallgate", "p": site_env["HALLGATE_INFLUX_PASSWORD"]}
    )
    assert httpx.post(influx.url + write, content=line).status_code == 204
    read = influx.query("SELECT * FROM device_status", "grafana", "grafana-pw", db="hallgate").json()
    assert read["results"][0]["series"][0]["values"], read
    no_write = "/write?" + urllib.parse.urlencode({"db": "hallgate", "u": "grafana", "p": "grafana-pw"})
    assert httpx.post(influx.url + no_write, content=line).status_code == 403


def test_the_units_command_lines_run_as_the_unit_runs_them(tmp_path: Path, hall_box: tuple) -> None:
    """systemd is not PID 1 here, so the unit cannot be started: its ExecStartPre and ExecStart are
    run as systemd would run them (its environment only: Environment=, then the EnvironmentFile=s in
    order, `%i` the instance, `${VAR}` expanded; its working folder and umask), the installed files
    in a folder standing for `/`; SIGTERM (its KillSignal) must stop it cleanly within TimeoutStopSec."""
    mqtt, influx, site_env = hall_box
    root = tmp_path / "root"

    def here(path: str) -> str:  # the box's absolute paths, inside `root`; hallgate from this checkout
        return (
            path.replace("/opt/hallgate/bin/hallgate", str(HALLGATE))
            .replace("/etc/", f"{root}/etc/")
            .replace("/var/", f"{root}/var/")
        )

    # Installed as README "Deploying" says, plus what this box differs in (ports), in common.env.
    etc = root / "etc" / "hallgate"
    etc.mkdir(parents=True)
    shutil.copy(CONFIGS_DIR / "hall-template.yaml", etc / "hall.yaml")
    shutil.copy(CONFIGS_DIR / "systemd" / "hall-07.env.example", etc / f"{SITE}.env")
    api_port = free_port()
    (etc / "common.env").write_text(
        f"HALLGATE_BROKER__PORT={mqtt.port}\nHALLGATE_API__PORT={api_port}\nHALLGATE_API__HOST=127.0.0.1\n"
        f"HALLGATE_INFLUX__URL={influx.url}\n"
    )
    for statement in influx_setup_statements():
        password = "admin-pw" if "admin" in statement else site_env["HALLGATE_INFLUX_PASSWORD"]
        influx.query(statement.replace("'...'", f"'{password}'"), "admin", "admin-pw").raise_for_status()

    settings = unit_service()
    value = dict(settings)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for key, text in settings:
        text = here(text.replace("%i", SITE))
        if key == "Environment":
            name, _, v = text.partition("=")
            env[name] = v
        elif key == "EnvironmentFile":
            optional, path = text.startswith("-"), Path(text.removeprefix("-"))
            if path.exists() or not optional:
                env.update(env_file(path))
    state = Path(here(f"/var/lib/{value['StateDirectory'].replace('%i', SITE)}"))
    state.mkdir(parents=True)
    env["STATE_DIRECTORY"] = str(state)
    assert Path(here(value["WorkingDirectory"].replace("%i", SITE))) == state

    def command(line: str) -> list[str]:
        line = here(line.replace("%i", SITE))
        return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: shlex.quote(env[m.group(1)]), line))

    umask = int(value["UMask"], 8)
    pre = subprocess.run(command(value["ExecStartPre"]), env=env, cwd=state, capture_output=True, text=True, timeout=30)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    assert "站点 hall-07，3 个区域，30 台设备" in pre.stdout
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        command(value["ExecStart"]), env=env, cwd=state, stdout=log, stderr=subprocess.STDOUT, umask=umask
    )
    try:
        base = f"http://127.0.0.1:{api_port}"

        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / "gateway.log").read_text()[-3000:]
            try:
                return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait(ready, timeout=30, what="the gateway ready (broker and store reachable)")
        me = httpx.get(
            f"{base}/api/v1/me", headers={"Authorization": f"Bearer {site_env['HALLGATE_TOKEN_MANAGER']}"}
        ).json()
        assert (me["hall"]["site"], me["hall"]["name"]) == (SITE, site_env["HALLGATE_NAME"])
        # A device of the hall logs in to the broker; what it reports reaches InfluxDB as the gateway's user.
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        paho.mqtt.publish.single(
            f"hall/{SITE}/rating/rp-w01/status", json.dumps({"state": "online", "ts": ts}), qos=1, retain=True,
            hostname="127.0.0.1", port=mqtt.port, auth={"username": "rp-w01", "password": "pad-pw"},
        )  # fmt: skip
        q = "SELECT * FROM device_status WHERE device = 'rp-w01'"

        def written() -> bool:
            r = influx.query(q, "admin", "admin-pw", db="hallgate").json()
            return bool(r["results"][0].get("series"))

        wait(written, timeout=20, what="rp-w01's status in InfluxDB")
        # The gateway's InfluxDB user may read its database back: the occupancy history comes from there.
        manager = {"Authorization": f"Bearer {site_env['HALLGATE_TOKEN_MANAGER']}"}
        history = httpx.get(f"{base}/api/v1/occupancy/history", headers=manager).json()
        assert (history["source"], history.get("note")) == ("influxdb", None), history
    finally:
        proc.send_signal(getattr(signal, value["KillSignal"]))
        rc = proc.wait(int(value["TimeoutStopSec"]))
        log.close()
    assert rc == 0, (tmp_path / "gateway.log").read_text()[-3000:]
    outbox = state / "outbox.sqlite"
    assert outbox.exists() and outbox.stat().st_mode & umask == 0, oct(outbox.stat().st_mode)
