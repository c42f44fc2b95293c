"""`hallgate demo` as a child process, as a user runs it: read its banner, wait for its devices, Ctrl-C it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port

ROLES = {"technician", "staff", "duty_manager", "manager", "admin", "viewer"}
KINDS = {"rating_pad", "lockbox", "attendance", "pickup_locker", "people_counter", "queue"}


class Demo:
    def __init__(
        self, hallgate: str | Path, cwd: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.launch = (str(hallgate), cwd, env or dict(os.environ), args)
        self._start()
        self.banner: list[str] = []
        self.tokens: dict[str, str] = {}

    def _start(self) -> None:
        hallgate, cwd, env, args = self.launch
        self.api_port, self.mqtt_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.proc = subprocess.Popen(
            [hallgate, "demo", "--api-port", str(self.api_port), "--mqtt-port", str(self.mqtt_port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env,
        )

    def read_banner(self, attempts: int = 3) -> None:
        """Read the demo's output up to its 'Ctrl-C' line (pytest-timeout bounds a demo that hangs).
        A free port is free only when asked: another process (a second demo's simulators) may take
        it before this demo binds it, so a demo that says `port_taken` is started again on others."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.banner.append(line)
            if line.startswith("token: "):
                _, role, token = line.split()
                self.tokens[role] = token
            if "Ctrl-C" in line:
                return
        code = self.proc.wait()
        if attempts > 1 and any("(port_taken)" in line for line in self.banner):
            self.banner, self.tokens = [], {}
            self._start()
            return self.read_banner(attempts - 1)
        raise AssertionError(f"the demo exited ({code}):\n{''.join(self.banner)}")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['manager']}"}

    def devices(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.base}/api/v1/devices", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_all_kinds_online(self, timeout: float = 30) -> list[dict[str, Any]]:
        """Every device kind with a device online (so the gateway reaches the simulators' ports)."""
        deadline = time.monotonic() + timeout
        while True:
            ds = self.devices()
            if {d["kind"] for d in ds if d["online"]} == KINDS or time.monotonic() > deadline:
                return ds
            time.sleep(0.3)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and the rest of the output."""
        self.proc.send_signal(signal.SIGINT)
        try:
            rest, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
            raise AssertionError(f"the demo did not stop within 15 s of Ctrl-C:\n{rest}") from None
        return self.proc.returncode, rest

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.communicate()


@contextlib.contextmanager
def running_demo(
    hallgate: str | Path, cwd: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Demo]:
    """A demo with its banner read; killed if the block fails before stopping it."""
    demo = Demo(hallgate, cwd, env, args)
    try:
        demo.read_banner()
        yield demo
    finally:
        demo.kill()
