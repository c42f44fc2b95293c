from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from firmware_sim.common import STATE_ENV
from tests.servers import InfluxDB, Mosquitto, VictoriaMetrics

S = TypeVar("S", Mosquitto, InfluxDB, VictoriaMetrics)


def _serve(server_class: type[S], folder: Path) -> Iterator[S]:
    """A real server in its own folder, for one test; a missing binary fails the test."""
    folder.mkdir()
    server = server_class(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def sim_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The simulators keep each device's seq in a state folder (as firmware keeps it in flash):
    in a temporary one for every test, never under the home folder."""
    folder = tmp_path_factory.mktemp("sim-state")
    monkeypatch.setenv(STATE_ENV, str(folder))
    return folder


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from _serve(Mosquitto, tmp_path / "mosquitto")


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    yield from _serve(InfluxDB, tmp_path / "influxdb")


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    yield from _serve(VictoriaMetrics, tmp_path / "victoria-metrics")


# A test that leaves asyncio tasks, threads or child processes behind fails (as in pymodbus's
# test/conftest.py): a leak in one test slows, breaks or confuses the tests after it, and the
# same leak in the gateway would grow for as long as it runs.

LEAK_GRACE_S = 3.0  # threads and processes that are already stopping get this long to end
_leaked_tasks: list[str] = []


class _TrackingLoop(asyncio.SelectorEventLoop):
    """Notes the tasks still pending when its first run_until_complete returns.

    The tests run their coroutines with asyncio.run, which cancels whatever the main coroutine
    left running before it returns: harmless in a test, a leak in the gateway. asyncio.run's first
    run_until_complete is the main coroutine; its later ones are its own clean-up.
    """

    _main_done = False

    def run_until_complete(self, future: Any) -> Any:
        try:
            return super().run_until_complete(future)
        finally:
            if not self._main_done:
                self._main_done = True
                _leaked_tasks.extend(repr(t) for t in asyncio.all_tasks(self) if not t.done())


class _TrackingPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _TrackingLoop()


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def _children() -> dict[int, psutil.Process]:
    out = {}
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:  # exited; reaped at the next subprocess call
                out[p.pid] = p
        except psutil.NoSuchProcess:
            pass
    return out


def _describe(p: psutil.Process) -> str:
    try:
        return f"pid {p.pid}: {' '.join(p.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {p.pid}"


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a passing test that leaves tasks, threads or child processes running."""
    threads = set(threading.enumerate())
    children = set(_children())
    _leaked_tasks.clear()
    asyncio.set_event_loop_policy(_TrackingPolicy())
    yield
    asyncio.set_event_loop_policy(None)
    deadline = time.monotonic() + LEAK_GRACE_S
    while True:
        new_threads = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        new_children = [p for pid, p in _children().items() if pid not in children]
        if not (new_threads or new_children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = [f"task left running: {t}" for t in _leaked_tasks]
    problems += [f"thread left running: {t.name} ({'daemon' if t.daemon else 'not daemon'})" for t in new_threads]
    problems += [f"child process left running: {_describe(p)}" for p in new_children]
    for p in new_children:  # ended here so that they cannot disturb the tests after this one
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _leaked_tasks.clear()
    if problems and not request.node.stash.get(_CALL_FAILED, False):
        pytest.fail("the test leaked:\n  " + "\n  ".join(problems), pytrace=False)
