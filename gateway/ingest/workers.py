"""The gateway's side of its ingest workers (gateway/ingest/worker.py): starts each as a child process,
hands what it forwards to the hub, and, supervised, starts it again when it dies.

Which worker sessions exist at the broker is kept in the state database, so that when a hall
goes from three workers to two (or back to one), the session the configuration no longer has
is emptied by a retiring worker before it is forgotten: a persistent session that nobody
connects to would keep its share of the hall's messages queued at the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from gateway.config.hall import HallConfig
from gateway.ingest.decode import Decoded
from gateway.ingest.forward import frame, read_frame
from gateway.ingest.hub import Hub
from gateway.store.journal import Journal
from gateway.supervisor import Supervisor

log = logging.getLogger(__name__)

STATE = "ingest_workers"  # in the state database: the worker sessions the broker may hold
STOP_WAIT_S = 10.0


class WorkerExited(Exception):
    pass


@dataclass
class WorkerState:
    index: int
    pid: int | None = None
    running: bool = False
    status: dict[str, Any] = field(default_factory=dict)  # its last stats frame
    events: int = 0  # forwarded to the hub


class IngestWorkers:
    def __init__(self, cfg: HallConfig, hub: Hub, journal: Journal) -> None:
        self.cfg, self.hub, self.journal = cfg, hub, journal
        active = cfg.ingest.workers if cfg.ingest.workers > 1 else 0
        saved = journal.load_state(STATE) or {}
        known = set(saved.get("sessions", []))
        self.states = {i: WorkerState(i) for i in range(1, active + 1)}
        self.retiring = sorted(i for i in known if i > active)
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._stopping = False
        self._save()

    def _save(self) -> None:
        self.journal.save_states({STATE: {"sessions": sorted({*self.states, *self.retiring})}})

    def start(self, supervisor: Supervisor) -> None:
        for i in self.states:
            supervisor.spawn(f"ingest worker {i}", lambda i=i: self._run(i, retire=False))
        for i in self.retiring:
            log.warning(
                "ingest worker session %d is no longer configured: taking what it still holds, then retiring it", i
            )
            supervisor.spawn(f"retiring ingest worker {i}", lambda i=i: self._run(i, retire=True))

    async def _run(self, index: int, retire: bool) -> None:
        if self._stopping:
            await asyncio.Event().wait()  # stopping: wait for the supervisor's cancellation
        state = self.states.get(index) or WorkerState(index)
        parent, child = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.ingest.worker", str(child.fileno()), pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        self._procs[index] = proc
        state.pid, state.running = proc.pid, True
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        try:
            writer.write(frame({"config": self.cfg.model_dump_json(), "index": index, "retire": retire}))
            while True:
                try:
                    item = await read_frame(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                if isinstance(item, Decoded):
                    state.events += len(item.events)
                    self.hub.accept(item)
                else:
                    state.status = item
            rc = await proc.wait()
        finally:
            state.running = False
            writer.close()
            await _end(proc)
            self._procs.pop(index, None)
        if self._stopping:
            await asyncio.Event().wait()
        if retire and rc == 0:
            self.retiring.remove(index)
            self._save()
            log.info("ingest worker session %d retired", index)
            await asyncio.Event().wait()  # done; nothing to restart
        raise WorkerExited(f"ingest worker {index} (pid {proc.pid}) exited with status {rc}")

    async def aclose(self) -> None:
        """Stop every worker (SIGTERM: each finishes its batch, acknowledges, disconnects)."""
        self._stopping = True
        procs = list(self._procs.values())
        await asyncio.gather(*(_end(p) for p in procs))


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), STOP_WAIT_S)
    except TimeoutError:
        log.error("ingest worker pid %d did not stop in %.0f s; killing it", proc.pid, STOP_WAIT_S)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
