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
import pickle
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from gateway.config.hall import HallConfig
from gateway.ingest.decode import Decoded
from gateway.ingest.forward import frame, read_frame
from gateway.ingest.hub import Hub
from gateway.store.forwarded import Forwarded
from gateway.store.journal import Journal
from gateway.supervisor import Supervisor

log = logging.getLogger(__name__)

STATE = "ingest_workers"  # in the state database: the worker sessions the broker may hold
STOP_WAIT_S = 10.0
SILENT_S = 15.0  # a worker reports every second: this long without a report, it is hung


class WorkerExited(Exception):
    pass


@dataclass
class WorkerState:
    index: int
    pid: int | None = None
    running: bool = False
    status: dict[str, Any] = field(default_factory=dict)  # its last stats frame (this run's)
    reported: float = 0.0  # when it came (monotonic)
    events: int = 0  # forwarded to the hub
    # Its forward table (gateway/store/forwarded.py): the rows taken from it, so that what a
    # restarted worker sends again is not projected twice while this gateway runs.
    stream: str = ""
    taken: int = 0
    acked: int = 0  # acknowledged to it: the records up to here are committed


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
        self._commit_error: str | None = None
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
        state.pid, state.running, state.status = proc.pid, True, {}  # not subscribed until it says so
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        try:
            writer.write(frame({"config": self.cfg.model_dump_json(), "index": index, "retire": retire}))
            while True:
                try:
                    item = await read_frame(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                if isinstance(item, Forwarded):
                    self._take(state, item)
                    if self._commit():
                        state.acked = state.taken
                        writer.write(frame(state.taken))
                else:
                    state.status, state.reported = item, time.monotonic()
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

    def _take(self, state: WorkerState, item: Forwarded) -> None:
        if item.stream != state.stream:
            state.stream, state.taken = item.stream, 0  # a new table: its seqs start again
        if item.seq <= state.taken:
            return  # sent again by a restarted worker: already projected
        decoded: Decoded = pickle.loads(item.data)
        state.taken = item.seq
        state.events += len(decoded.events)
        self.hub.accept(decoded)

    def _commit(self) -> bool:
        """The records the projections staged, committed now: only then may a worker forget them."""
        try:
            self.hub.commit_records()
        except Exception as e:
            if self._commit_error is None:
                log.error("the records of the ingest workers' events cannot be committed: %s; kept for a retry", e)
            self._commit_error = f"{type(e).__name__}: {e}"
            return False
        if self._commit_error is not None:
            log.warning("the records of the ingest workers' events are committed again")
            self._commit_error = None
        return True

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


def worker_problems(workers: dict[int, Any], now: float | None = None) -> list[str]:
    """What keeps the gateway from being ready, worker by worker (`now`: monotonic)."""
    now = time.monotonic() if now is None else now
    out = []
    for i, w in workers.items():
        st = w.status
        # Ready means every worker's subscriptions are in place: until then the broker routes
        # its share nowhere (a session that never existed queues nothing).
        if not w.running:
            out.append(f"ingest worker {i} is not running: restarting it")
            continue
        if not st:
            out.append(f"ingest worker {i} (pid {w.pid}) is starting: not subscribed yet")
            continue
        silent = now - w.reported
        if silent > SILENT_S:  # it reports every second: hung (or stopped), its share goes nowhere
            out.append(f"ingest worker {i} (pid {w.pid}) has not reported for {silent:.0f} s")
        if not st["mqtt"]["connected"]:
            out.append(f"ingest worker {i} not connected to the broker: {st['mqtt']['last_error']}")
        elif not st["mqtt"]["subscribed"]:
            out.append(f"ingest worker {i} connected but its subscriptions are not acknowledged yet")
        if st["forward"]["full"]:
            out.append(
                f"ingest worker {i}: the gateway does not keep up with its events; {st['forward_dropped']} "
                "not kept for the records (its forward table is full)"
            )
        if st["store_error"]:
            out.append(f"ingest worker {i}: its outbox cannot store records: {st['store_error']}")
        sink = st["sink"]
        if sink and not sink["healthy"] and sink["last_error"]:
            out.append(f"ingest worker {i}: store not reachable: {sink['last_error']}")
    return out
