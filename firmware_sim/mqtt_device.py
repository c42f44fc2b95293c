"""The MQTT device firmware shared by the rating pad, the phone lockbox, the attendance machine and
the queue system.

One asyncio task per device (`MqttDevice.run`), all devices on one event loop. Per device-protocols.md:
- topics `hall/{site}/{kind}/{device}/{channel}`, client id `{kind}-{device}`, persistent session;
- retained `status` online on connect, the will is retained `{"state":"offline"}` QoS 1, a clean
  shutdown publishes `{"state":"offline","reason":"shutdown"}`;
- `heartbeat` QoS 0 every `heartbeat_s`;
- events carry `seq` (uint32, wraps) and `ts`; they are kept in a bounded outbox while offline and
  sent oldest first after the status on reconnect (a message is dropped from the outbox only once
  the broker acknowledged it, so a cut may repeat some);
- `cmd` ids executed in the last 10 minutes are not executed again: the same `ack` is re-sent.

Here: the device's state, its payloads, its event outbox and seq (flash), its commands. The
connection is firmware_sim/mqtt_session.py, the fault hooks firmware_sim/mqtt_faults.py (mixins).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt

from firmware_sim.common import SeqCounter, compact_json, default_state_root, device_rng, iso_ts
from firmware_sim.mqtt_faults import FaultHooks
from firmware_sim.mqtt_session import MqttSession, MqttSettings
from firmware_sim.tasks import shutdown_tasks

log = logging.getLogger("firmware_sim.mqtt")

CMD_MEMORY_S = 600.0  # ids executed in the last 10 minutes are not executed again
SENT_MEMORY = 1000  # events remembered after sending, for a "power loss" re-upload of a range


class _DefaultState:
    """`state_dir=DEFAULT_STATE`: the device's flash lives under `default_state_root()/{site}/{device}`."""

    def __repr__(self) -> str:
        return "DEFAULT_STATE"


DEFAULT_STATE = _DefaultState()
StateDir = Path | str | _DefaultState | None


class CmdError(Exception):
    """A command that the device refuses; `code` goes into the ack's `error`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class MqttDevice(MqttSession, FaultHooks):
    """Base class of the MQTT device simulators.

    Subclasses set the class attributes and implement `spontaneous()` (one random activity step)
    and, for their own command ops, `execute()`.
    """

    kind: ClassVar[str] = ""  # the device kind of a hall file (firmware_sim/kinds/registry.py)
    wirekind: ClassVar[str] = ""
    model: ClassVar[str] = ""
    fw: ClassVar[str] = "2.3.1"
    event_channel: ClassVar[str] = "event"
    battery_powered: ClassVar[bool] = False
    max_backlog: ClassVar[int] = 10_000
    upload_rate_per_s: ClassVar[float | None] = None  # None: as fast as the broker acknowledges
    retained_channels: ClassVar[frozenset[str]] = frozenset()  # outbox channels published retained

    def __init__(
        self,
        device_id: str,
        *,
        site: str = "demo-hall",
        topic: str | None = None,
        mqtt: MqttSettings | None = None,
        heartbeat_s: float = 30.0,
        rate_per_min: float = 0.0,
        seed: int | str = 0,
        state_dir: StateDir = DEFAULT_STATE,
        seq_start: int = 0,
        clock_offset_s: float = 0.0,
        will: bool = True,
    ) -> None:
        """`state_dir`: the device's "flash" folder (its seq survives restarts); the default is
        `~/.local/state/hallgate-sim/{site}/{device}` (see `default_state_root`); None keeps it in
        memory only. `will`: False configures the device without an MQTT will (an abrupt drop then
        leaves its retained status online)."""
        self.device_id = device_id
        self.site = site
        self.topic = (topic or f"hall/{site}/{self.wirekind}/{device_id}").rstrip("/")
        self.client_id = f"{self.wirekind}-{device_id}"
        self.mqtt = mqtt or MqttSettings()
        self.heartbeat_s = heartbeat_s
        self.rate_per_min = rate_per_min
        self.rng = device_rng(seed, device_id)
        if isinstance(state_dir, _DefaultState):
            state_dir = default_state_root() / site / device_id
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.seq = SeqCounter(seq_start, self.state_dir / "seq.json" if self.state_dir else None)
        self.clock_offset_s = clock_offset_s
        self.drift_s_per_day = 0.0  # a clock running fast (>0) or slow, from _drift_since on
        self._drift_since = time.monotonic()
        self.will = will
        self.battery = 100 if self.battery_powered else None
        # what was sent and what is waiting
        self._outbox: deque[tuple[str, str | bytes]] = deque()
        self._acks_out: deque[str] = deque()
        self._acks: dict[str, tuple[float, str]] = {}
        self.dropped_events = 0
        self.executed_cmds = 0
        self.repeated_cmds = 0
        self.bad_cmds = 0
        self.sessions = 0
        self.published = 0  # messages the broker accepted (QoS 1) or that were handed over (QoS 0)
        self.last_error: str | None = None  # why the last connection attempt failed or ended
        # fault injection (see firmware_sim/faults.py)
        self.loss = 0.0  # share of messages a flaky link loses
        self.reply_delay_s = 0.0  # slow replies: each ack waits this long
        self._clean_drop = False
        self._sent: deque[tuple[str, str | bytes]] = deque(maxlen=SENT_MEMORY)
        # state and control
        self._boot = time.monotonic()
        self._outbox_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._online_allowed = asyncio.Event()
        self._online_allowed.set()
        self._powered = asyncio.Event()
        self._powered.set()
        self._drop = asyncio.Event()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()

    # ---- topics and payloads ---------------------------------------------------------------
    def channel(self, name: str) -> str:
        return f"{self.topic}/{name}"

    def ts(self) -> str:
        drift = self.drift_s_per_day * (time.monotonic() - self._drift_since) / 86400 if self.drift_s_per_day else 0.0
        return iso_ts(self.clock_offset_s + drift)

    def set_drift(self, offset_s: float = 0.0, per_day_s: float = 0.0) -> None:
        """The device clock is off by `offset_s` now and drifts `per_day_s` seconds a day from here."""
        self.clock_offset_s = offset_s
        self.drift_s_per_day = per_day_s
        self._drift_since = time.monotonic()

    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self._boot)

    @property
    def backlog(self) -> int:
        """Events waiting for the broker's acknowledgement."""
        return len(self._outbox)

    def emit(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Record one event (`seq` and `ts` added) and queue it for sending, oldest first."""
        event = {"seq": self.seq.next(), "ts": self.ts(), **fields}
        if len(self._outbox) >= self.max_backlog:
            self._outbox.popleft()
            self.dropped_events += 1
        self._outbox.append((self.event_channel, compact_json(event)))
        self._outbox_changed.set()
        return event

    def status_online(self) -> dict[str, Any]:
        return {"state": "online", "fw": self.fw, "model": self.model, "ts": self.ts()}

    def heartbeat(self) -> dict[str, Any]:
        beat: dict[str, Any] = {
            "ts": self.ts(),
            "uptime_s": self.uptime_s,
            "rssi": self.rng.randint(-75, -50),
        }
        if self.battery is not None:
            beat["battery"] = self.battery
        return beat

    # ---- behaviour for subclasses ----------------------------------------------------------
    def spontaneous(self) -> None:
        """One step of random everyday activity (called `rate_per_min` times a minute on average)."""

    async def execute(self, op: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """Run a command op; return extra ack fields or raise CmdError."""
        if op == "ping":
            return {}
        raise CmdError("bad_op")

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a helper coroutine (a door that closes later...) that is cancelled on stop."""
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # ---- lifecycle (run() is the session's) ------------------------------------------------
    def stop(self) -> None:
        """Clean shutdown: publish status offline with reason shutdown, DISCONNECT, return from run()."""
        self._stop.set()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def wait_sent(self, timeout: float = 10.0) -> None:
        """Wait until every queued event and ack has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self._outbox or self._acks_out:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.client_id}: {len(self._outbox)} events still unsent")
            await asyncio.sleep(0.02)

    # ---- commands ----------------------------------------------------------------------------
    async def _on_cmd(self, raw: Any) -> None:
        try:
            cmd = json.loads(raw)
        except (TypeError, ValueError):
            self.bad_cmds += 1
            log.warning("%s: cmd is not JSON: %r", self.client_id, raw)
            return
        cmd_id = cmd.get("id") if isinstance(cmd, dict) else None
        if not isinstance(cmd_id, str) or not 1 <= len(cmd_id) <= 64:
            self.bad_cmds += 1
            log.warning("%s: cmd without a valid id (1-64 chars): %r", self.client_id, raw)
            return
        now = time.monotonic()
        for old in [k for k, (t, _) in self._acks.items() if now - t > CMD_MEMORY_S]:
            del self._acks[old]
        if cmd_id in self._acks:
            self.repeated_cmds += 1
            self._queue_ack(self._acks[cmd_id][1])
            return
        op = cmd.get("op")
        try:
            if not isinstance(op, str):
                raise CmdError("bad_op")
            ack = {"id": cmd_id, "ok": True, **await self.execute(op, cmd)}
        except CmdError as e:
            ack = {"id": cmd_id, "ok": False, "error": e.code}
        self.executed_cmds += 1
        payload = compact_json(ack)
        self._acks[cmd_id] = (now, payload)
        self._queue_ack(payload)

    def _queue_ack(self, payload: str) -> None:
        self._acks_out.append(payload)
        self._outbox_changed.set()

    # ---- running one device on its own -----------------------------------------------------
    async def __aenter__(self) -> MqttDevice:
        self._run_task = asyncio.create_task(self.run(), name=self.client_id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await shutdown_tasks([self], [self._run_task])
