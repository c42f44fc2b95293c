"""Real servers for tests and benchmarks as child processes: Mosquitto, InfluxDB 1.x, victoria-metrics,
vmauth and a gateway (`hallgate run`). The TLS material they take is made in tests/pki.py.

Each runs on free loopback ports in its own temporary folder. A missing binary is an error,
never a skip: CI installs them (see .ci/run).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.pki import Pki


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def wait_for_http(url: str, status: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
            if r.status == status:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {status} within {timeout} s")


def require_binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/usr/local/bin")
    if path is None:
        raise RuntimeError(f"{name} is not installed: run `.ci/run` or apt-get install it (see README)")
    return path


class _Process:
    """A server process that can be stopped (cleanly or with SIGKILL) and started again on the same port."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / f"{name}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _wait_ready(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except TimeoutError as e:
            raise RuntimeError(f"{self.name} did not start: {self.log.read_text()[-2000:]}") from e

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Mosquitto(_Process):
    """Mosquitto on a plain loopback listener (`port`); with `pki`, also a TLS listener
    (`tls_port`) with the server certificate, which with `require_certificate` also demands a
    client certificate signed by the test CA (mutual TLS)."""

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        persistence: bool = True,
        pki: Pki | None = None,
        require_certificate: bool = False,
    ) -> None:
        super().__init__(folder, "mosquitto")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.tls_port = free_port() if pki else None
        self.binary = require_binary("mosquitto")
        conf = folder / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Run as root, mosquitto drops to user `mosquitto`, which cannot write our temp folder.
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {folder}/",
            # Buffer everything a persistent-session subscriber has not acknowledged yet.
            "max_queued_messages 0",
            "max_queued_bytes 0",
        ]
        if pki:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {pki.ca}",
                f"certfile {pki.server_cert}",
                f"keyfile {pki.server_key}",
                f"require_certificate {'true' if require_certificate else 'false'}",
            ]
        conf.write_text("\n".join(lines) + "\n")
        self.conf = conf

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.conf)]

    def _wait_ready(self) -> None:
        wait_for_port(self.port)
        if self.tls_port:
            wait_for_port(self.tls_port)


class InfluxDB(_Process):
    """InfluxDB 1.x (Debian's 1.6): v1 /write and /query.

    With `admin=(user, password)`, authentication is on and that admin user is created at the
    first start (1.x allows exactly that one unauthenticated statement on an empty server);
    `query` then authenticates as it.
    """

    def __init__(self, folder: Path, admin: tuple[str, str] | None = None) -> None:
        super().__init__(folder, "influxd")
        self.admin = admin
        self._admin_created = False
        self.binary = require_binary("influxd")
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = folder / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{folder}/meta"
[data]
  dir = "{folder}/data"
  wal-dir = "{folder}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
{"  auth-enabled = true" if admin else ""}
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
        )
        self.conf = conf

    def _command(self) -> list[str]:
        return [self.binary, "-config", str(self.conf)]

    def _wait_ready(self) -> None:
        wait_for_http(f"{self.url}/ping", 204)
        if self.admin and not self._admin_created:
            user, password = self.admin
            self.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES")
            self._admin_created = True

    def query(self, q: str, db: str | None = None) -> dict:
        params = {"q": q}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        # InfluxDB 1.x reads u and p from the URL's query string only, not from a form body.
        auth = "?" + urllib.parse.urlencode(dict(zip("up", self.admin, strict=True))) if self._admin_created else ""
        with urllib.request.urlopen(f"{self.url}/query{auth}", data=data, timeout=30) as r:
            return json.loads(r.read())

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def count(self, db: str, measurement: str, field: str = "*") -> int:
        """Number of points in a measurement (0 when it does not exist)."""
        res = self.query(f'SELECT COUNT({field}) FROM "{measurement}"', db=db)["results"][0]
        series = res.get("series")
        if not series:
            return 0
        return max(v for v in series[0]["values"][0][1:] if v is not None)

    def wait_count(self, db: str, measurement: str, n: int, field: str = "seq", timeout: float = 90) -> int:
        """Poll until the measurement holds n points or the time is up; the last count seen."""
        deadline = time.monotonic() + timeout
        got = self.count(db, measurement, field)
        while got < n and time.monotonic() < deadline:
            time.sleep(0.25)
            got = self.count(db, measurement, field)
        return got


class VictoriaMetrics(_Process):
    """VictoriaMetrics single-node: accepts InfluxDB v2 line protocol at /api/v2/write (stored at
    ms precision; each numeric field becomes a series `{measurement}_{field}`; string fields are
    not stored), read back through /api/v1/export."""

    def __init__(self, folder: Path, extra_args: list[str] | None = None, pki: Pki | None = None) -> None:
        super().__init__(folder, "victoria-metrics")
        self.binary = require_binary("victoria-metrics")
        self.port = free_port()
        self.url = f"{'https' if pki else 'http'}://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args or [])
        self._context = ssl.create_default_context(cafile=str(pki.ca)) if pki else None
        if pki:  # HTTPS with the test CA's server certificate (localhost and 127.0.0.1)
            self.extra_args += ["-tls", f"-tlsCertFile={pki.server_cert}", f"-tlsKeyFile={pki.server_key}"]

    def _command(self) -> list[str]:
        return [
            self.binary,
            f"-storageDataPath={self.folder}/data",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-loggerLevel=ERROR",
            # One sample per series and millisecond: a redelivered point replaces itself, as in InfluxDB.
            "-dedup.minScrapeInterval=1ms",
            # The tests' fixed-day points (tests/load.py) stay storable once that day is a month past.
            "-retentionPeriod=100y",
            *self.extra_args,
        ]

    def _wait_ready(self) -> None:
        if self._context is None:
            wait_for_http(f"{self.url}/health", 200)
        else:
            wait_for_port(self.port)

    def export(self, match: str) -> list[dict]:
        """Raw samples of the series matching a selector, e.g. '{__name__=~"heartbeat_.*"}'."""
        # Recently written samples sit in memory buffers for about a second; flush them first.
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30, context=self._context) as r:
            r.read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30, context=self._context) as r:
            return [json.loads(line) for line in r.read().splitlines() if line.strip()]

    def count(self, measurement: str, field: str) -> int:
        """Number of samples of one numeric field of a measurement, over all its tag sets."""
        series = self.export(f'{{__name__="{measurement}_{field}"}}')
        return sum(len(s["timestamps"]) for s in series)

    def wait_count(self, measurement: str, field: str, n: int, timeout: float = 120) -> int:
        """Poll until n samples are stored or the time is up; the last count seen."""
        deadline = time.monotonic() + timeout
        got = self.count(measurement, field)
        while got < n and time.monotonic() < deadline:
            time.sleep(0.25)
            got = self.count(measurement, field)
        return got


class VMAuth(_Process):
    """vmauth (Debian's victoria-metrics package) in front of a store, from an -auth.config file."""

    def __init__(self, folder: Path, config: Path) -> None:
        super().__init__(folder, "vmauth")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config

    def _command(self) -> list[str]:
        return [
            require_binary("vmauth"),
            f"-auth.config={self.config}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-loggerLevel=ERROR",
        ]

    def _wait_ready(self) -> None:
        wait_for_port(self.port)


class GatewayProcess:
    """`hallgate run` as a child process on a hall of one rating pad: fault tests and benchmarks."""

    def __init__(
        self,
        folder: Path,
        broker: Mosquitto,
        influx: InfluxDB,
        site: str = "dur",
        database: str = "hallgate",
        workers: int = 1,
        flush_interval_s: float = 0.2,  # the tests' pace; a hall runs the default, 1 s
        extra: str = "",  # more top-level YAML, e.g. a district section
        max_bytes: int | None = None,  # the outbox's budget (store.max_bytes)
    ) -> None:
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.topic = f"hall/{site}/rating/rp-1/event"
        self.config = folder / "hall.yaml"
        budget = f", max_bytes: {max_bytes}" if max_bytes else ""
        self.config.write_text(f"""
site: {site}
api: {{port: {self.api_port}}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite, flush_interval_s: {flush_interval_s}{budget}}}
ingest: {{workers: {workers}}}
influx: {{api: v1, url: "{influx.url}", database: {database}}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W07}}
{extra}""")
        self.log = folder / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"gateway exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}")

    def start(self, timeout: float = 30) -> None:
        """Spawn and wait until /readyz says ready."""
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.api_url}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gateway not ready after {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
