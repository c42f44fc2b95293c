"""Helpers for the firmware simulator tests: real `mosquitto_sub`/`mosquitto_pub`/`mbpoll` processes.

(No tests here: pytest does not collect it.)
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.servers import require_binary

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$")


@dataclass
class Line:
    topic: str
    payload: str

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


class MqttWatcher:
    """`mosquitto_sub -v` on some topics, read line by line in a thread; wait with deadlines."""

    def __init__(self, port: int, *topics: str, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.probe = f"probe/{uuid.uuid4().hex}"
        args = [require_binary("mosquitto_sub"), "-h", host, "-p", str(port), "-v", "-q", "1", "-V", "mqttv311"]
        for topic in (*topics, self.probe):
            args += ["-t", topic]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[Line] = []
        self._q: queue.Queue[Line] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self._ready()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            topic, _, payload = raw.rstrip("\n").partition(" ")
            self._q.put(Line(topic, payload))

    def _drain(self) -> None:
        while True:
            try:
                self.lines.append(self._q.get_nowait())
            except queue.Empty:
                return

    def _ready(self, timeout: float = 5.0) -> None:
        """Publish probes until one comes back: then the subscription is in place."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mosquitto_pub(self.port, self.probe, "probe", host=self.host)
            try:
                line = self._q.get(timeout=0.3)
            except queue.Empty:
                continue
            if line.topic == self.probe:
                return
            self.lines.append(line)
        raise TimeoutError(f"mosquitto_sub did not subscribe within {timeout} s")

    def matching(self, pred: Callable[[Line], bool]) -> list[Line]:
        self._drain()
        return [ln for ln in self.lines if ln.topic != self.probe and pred(ln)]

    async def wait(self, pred: Callable[[Line], bool], count: int = 1, timeout: float = 5.0) -> list[Line]:
        """Wait (async) until at least `count` lines satisfy `pred`; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(pred)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"saw {len(found)} of {count} expected lines in {timeout} s; last lines: "
                    + "\n".join(f"{ln.topic} {ln.payload}" for ln in self.lines[-10:])
                )
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)

    def __enter__(self) -> MqttWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def on(topic_suffix: str, **fields: Any) -> Callable[[Line], bool]:
    """A predicate: topic ends with `topic_suffix` and the JSON payload has these field values."""

    def pred(line: Line) -> bool:
        if not line.topic.endswith(topic_suffix):
            return False
        try:
            data = line.json
        except (ValueError, RecursionError):  # garbage faults send deep nesting too
            return False
        return isinstance(data, dict) and all(k in data and data[k] == v for k, v in fields.items())

    return pred


def mosquitto_pub(port: int, topic: str, payload: str, qos: int = 1, host: str = "127.0.0.1") -> None:
    subprocess.run(
        [require_binary("mosquitto_pub"), "-h", host, "-p", str(port), "-q", str(qos), "-t", topic, "-m", payload],
        check=True,
        timeout=10,
    )


def retained(port: int, topic: str, host: str = "127.0.0.1") -> str:
    """The retained payload of a topic (mosquitto_sub -C 1)."""
    out = subprocess.run(
        [require_binary("mosquitto_sub"), "-h", host, "-p", str(port), "-t", topic, "-C", "1", "-W", "3"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip()


@dataclass
class MbpollResult:
    rc: int
    output: str

    @property
    def values(self) -> dict[int, int]:
        """`[ref]: value` lines as {ref: value}."""
        return {int(m[1]): int(m[2]) for m in re.finditer(r"^\[(\d+)\]:\s+(-?\d+)", self.output, re.M)}


async def mbpoll(port: int, *options: str, unit: int = 1, write: list[str] | None = None) -> MbpollResult:
    """Run mbpoll once against 127.0.0.1:port with 0-based references (`-0`); `write` values to write."""
    cmd = [require_binary("mbpoll"), "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1", "-o", "2", *options]
    cmd += ["127.0.0.1", *(write or [])]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 15)
    return MbpollResult(proc.returncode or 0, out.decode())


def free_ports(n: int) -> int:
    """The first of `n` consecutive free loopback ports."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError(f"no {n} consecutive free ports")
