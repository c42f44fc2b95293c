"""The command desk: the one way down to a device.

Every command is: authorised (by the caller, see audit.py), keyed (an Idempotency-Key, scoped to
the caller: a repeat gets the first outcome, and a key reused for another request is refused),
written to the state database before a byte goes out (so a restart neither forgets it nor sends
it twice), sent with the device's profile (drivers/profiles/commands.py), confirmed by the device
within a timeout (the ack of an MQTT device; the read-back of a Modbus board's door sensor or
lock-fault bit: a written coil proves nothing), and audited (state database, and the outbox at
Priority.AUDIT). When the outbox cannot take an audit record the command is refused before it
is sent: nothing is done that cannot be audited.

The desk is also a hub projection: acks arrive as canonical `ack` events and resolve the waiting
command; pickup-locker readings close pickup records (pickup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.modbus import ModbusFailure, ModbusLine
from drivers.profiles.commands import Confirmation, encode_modbus_command, encode_mqtt_command
from drivers.profiles.errors import CommandError
from drivers.profiles.model import ModbusProfile, MqttProfile
from gateway.commands.audit import Caller, audit_line, audit_row, iso_time
from gateway.commands.late import LateAnswers
from gateway.config.hall import HallConfig
from gateway.devices import DeviceEntry
from gateway.domain.canonical import ACK, STATUS, Event
from gateway.health import HealthBook
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox, OutboxFull

log = logging.getLogger(__name__)

DEVICE_CMD_MEMORY_S = 600  # device-protocols.md: a device drops a command id it executed in the last 10 min
READ_BACK_PERIOD_S = 0.005  # between read-backs of a Modbus board (shared by its commands in flight)
AUDIT_ROOM_BYTES = 4096  # room an audit record needs, at most
PURGE_EVERY_NS = 3600 * 10**9

# outcome -> HTTP status of the answer
HTTP_STATUS = {
    "confirmed": 200,
    "failed": 409,  # the device refused or its lock did not open (jammed, bad_slot, busy)
    "refused": 409,  # not sent: another command on the part, a door not free, already open
    "timeout": 504,  # sent, not confirmed in time
    "offline": 504,  # not sent: the device is known to be offline or did not answer the first read
    "unavailable": 503,  # not sent: the broker is down, or the gateway stopped before sending
}
# what the audit calls an outcome: anything not sent is `refused`
AUDIT_OUTCOME = {"confirmed": "confirmed", "failed": "failed", "timeout": "timeout"}


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, expiry_s: float | None = None
    ) -> Any: ...


SNAPSHOT_EXPIRY_S = 30.0  # a snapshot asked for long ago says nothing new: the broker may drop it


class Refused(Exception):
    """A command not run (or a request not valid); becomes `ApiError(status, code, detail)`."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, dict(headers or {})


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # 200 confirmed; 409, 503, 504 otherwise
    body: dict[str, Any]  # the audit record, or {"error", "detail", "audit"}
    repeat: bool = False  # the answer to an Idempotency-Key already used

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Request:
    """One command as asked: what to do to which device, by whom and why."""

    action: str  # what the audit calls it: unlock, deposit, pickup
    device: str
    op: str  # the profile's command op
    params: dict[str, Any]
    part: str  # slot 3, door 5
    caller: Caller
    reason: str

    def fingerprint(self) -> str:
        return json.dumps([self.action, self.device, self.op, self.params], sort_keys=True)

    def to_json(self) -> dict[str, Any]:
        c = self.caller
        return {
            "action": self.action,
            "op": self.op,
            "params": self.params,
            "part": self.part,
            "actor": c.actor,
            "role": c.role,
            "locker": c.locker,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, device: str, d: dict[str, Any]) -> Request:
        caller = Caller(d["role"], d["actor"], d.get("locker"))
        return cls(d["action"], device, d["op"], d["params"], d["part"], caller, d["reason"])


Check = Callable[[dict[str, Any]], "Refused | None"]  # a Modbus board's state before the pulse


class CommandDesk:
    name = "commands"

    def __init__(
        self,
        cfg: HallConfig,
        devices: Mapping[str, DeviceEntry],
        journal: Journal,
        outbox: Outbox,
        health: HealthBook,
        lines: Mapping[str, ModbusLine],
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.cfg = cfg
        self.devices = devices
        self.journal = journal
        self.outbox = outbox
        self.health = health
        self.lines = lines  # filled by the runtime as it opens the Modbus lines
        self.clock = clock
        self.mqtt: Publisher | None = None
        self.mqtt_connected: Callable[[], bool] = lambda: False
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}  # command id -> its ack's fields
        self._running: dict[str, asyncio.Task[Outcome]] = {}  # key -> the command in flight
        self._busy: dict[tuple[str, str], str] = {}  # (device, part) -> key of the command in flight
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_purge = 0
        self._fingerprints: dict[str, str] = {}  # key -> fingerprint of the command in flight
        self._finishing: list[dict[str, Any]] = []  # outcomes waiting for their shared commit
        self._beginning: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []  # commands about to be sent
        self._reads: dict[str, _Reads] = {}  # Modbus device -> its shared read-back
        self._ack_parts: dict[str, str] = {}  # command id -> the part it unlocks
        self.on_released: list[Callable[[str, str, int], None]] = []  # (device, part, now): an unlock confirmed
        self.hooks: list[Callable[[Event, int], None]] = []  # other consumers of events (pickup.py)
        self.conditions_from: list[Callable[[int], list[Any]]] = []
        self.tickers: list[Callable[[int], None]] = []  # called each second with the time (pickup reminders)
        # name -> (state, restore) of parts kept through the hub's state saving (the pickup lockout)
        self.state_parts: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self.stats = {"confirmed": 0, "failed": 0, "timeout": 0, "late_acks": 0, "audit_unexported": 0}
        self.late = LateAnswers(journal, self._export, clock, self.stats)
        self._refused_since: int | None = None  # the outbox refuses audit records since ...
        self._refused_count = 0
        self.late.on_released = self.on_released  # a slot opened late explains its door_open too

    def attach_mqtt(self, link: Publisher, connected: Callable[[], bool]) -> None:
        self.mqtt, self.mqtt_connected = link, connected

    # -- projection: acks and readings come up through the hub ---------------------------------

    def apply(self, event: Event, now_ns: int) -> None:
        if event.name == ACK:
            d = self.devices.get(event.device)
            spec = _ack_spec(d.profile) if d is not None else None
            cmd_id = event.fields.get(spec.id_field if spec else "id")
            waiter = self._acks.get(cmd_id) if isinstance(cmd_id, str) else None
            if waiter is not None and not waiter.done():
                waiter.set_result(event.fields)
                part = self._ack_parts.get(cmd_id)
                ok = event.fields.get(spec.ok_field if spec else "ok")
                if part is not None and ok is True:
                    # Released now: the door_open that follows (same batch, or later) is explained.
                    for released in self.on_released:
                        released(event.device, part, now_ns)
            elif isinstance(cmd_id, str) and not event.fields.get("slots"):
                self.stats["late_acks"] += 1
                ok = event.fields.get(spec.ok_field if spec else "ok") is True
                error = event.fields.get(spec.error_field) if spec and spec.error_field else None
                if not self.late.answer(cmd_id, ok, None if error is None else str(error), now_ns):
                    log.info("ack %s from %s for no waiting command (repeated, or unknown)", cmd_id, event.device)
        elif event.name == STATUS and event.fields.get("online") is True:
            self.snapshot(event.device)  # connected again: what happened to its slots meanwhile
        self.late.reading(event, now_ns)  # a board's door read open after its command timed out
        for hook in self.hooks:
            hook(event, now_ns)

    def snapshot(self, device: str) -> None:
        """Ask an MQTT device with a `snapshot` command for its state; its ack feeds the kind's
        projection. A read, not an actuation: not audited, not keyed, not awaited."""
        d = self.devices.get(device)
        if d is None or d.decoder is None or self.mqtt is None or not self.mqtt_connected():
            return
        if "snapshot" not in d.profile.commands:
            return
        wire = encode_mqtt_command(d.profile, "snapshot", {}, uuid.uuid4().hex)  # type: ignore[arg-type]
        base = d.config.mqtt.topic if d.config.mqtt else None
        topic = d.decoder.command_topic(d.id, self.cfg.site, wire.channel, base)
        self.mqtt.publish(topic, wire.payload, qos=1, expiry_s=SNAPSHOT_EXPIRY_S)

    def state(self) -> dict[str, Any] | None:
        return {name: get() for name, (get, _) in self.state_parts.items()} or None

    def restore(self, state: dict[str, Any]) -> None:
        for name, (_, put) in self.state_parts.items():
            if name in state:
                put(state[name])

    def conditions(self, now_ns: int) -> list[Any]:
        return [c for fn in self.conditions_from for c in fn(now_ns)]

    # -- the one way down ------------------------------------------------------------------------

    async def run(self, req: Request, key: str, check: Check | None = None) -> Outcome:
        """Run a command once per (caller, key); a repeat gets the first outcome."""
        full_key = f"{req.caller.actor}\x1f{key}"
        running = self._running.get(full_key)
        row = self.journal.command(full_key) if running is None else None
        if running is not None or row is not None:
            fingerprint = row[2] if row is not None else self._fingerprints[full_key]
            if fingerprint != req.fingerprint():
                raise Refused(
                    422, "idempotency_key_reused", "this Idempotency-Key was used for another request: use a new key"
                )
            if running is not None:
                first = await asyncio.shield(running)
            else:
                assert row is not None
                if row[7] is not None:
                    return Outcome(row[7], json.loads(row[8]), repeat=True)
                # Pending from before a restart: its recovery decides.
                first = await asyncio.shield(self._recover(row))
            return Outcome(first.status, first.body, repeat=True)
        started = time.perf_counter()
        self._check_params(req)
        part = (req.device, req.part)
        if part in self._busy:
            return await self._finish_now(
                req, full_key, "refused", "busy", f"another command on {req.part} is in progress"
            )
        d = self.devices[req.device]
        if not self.health.devices[req.device].online:
            return await self._finish_now(
                req, full_key, "offline", "device_offline", f"{req.device} is offline: nothing was sent"
            )
        if d.protocol == "mqtt" and not self.mqtt_connected():
            # paho would queue it and send it whenever the broker is back: a late unlock.
            return await self._finish_now(
                req, full_key, "unavailable", "broker_unavailable", "the MQTT broker is not connected: nothing was sent"
            )
        o = self.outbox.stats()
        if o.bytes_by_class.get("audit", 0) + AUDIT_ROOM_BYTES > o.max_bytes:
            # Outbox.append drops every lower class before it refuses an audit record: only audit
            # records left unsent fill it. Refused before anything is sent: nothing unaudited.
            raise Refused(503, "audit_unavailable", "the outbox is full of audit records: nothing was sent")
        cmd_id = uuid.uuid4().hex
        task = self._spawn(self._execute(req, full_key, cmd_id, started, check, sent_before=False))
        self._fingerprints[full_key] = req.fingerprint()
        self._running[full_key] = task
        self._busy[part] = full_key
        task.add_done_callback(lambda _: (self._running.pop(full_key, None), self._busy.pop(part, None)))
        return await asyncio.shield(task)

    def _check_params(self, req: Request) -> None:
        """The profile's own check of the parameters, before anything is kept or sent."""
        profile = self.devices[req.device].profile
        try:
            if isinstance(profile, MqttProfile):
                encode_mqtt_command(profile, req.op, req.params, "check")
            else:
                encode_modbus_command(profile, req.op, req.params)
        except CommandError as e:
            raise Refused(422, "bad_parameter", f"{req.device}: {e}") from None

    def _spawn(self, coro: Awaitable[Outcome]) -> asyncio.Task[Outcome]:
        # A command runs to its outcome even if the caller hangs up; only the gateway's stop cancels it.
        task: asyncio.Task[Outcome] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _execute(
        self, req: Request, key: str, cmd_id: str, started: float, check: Check | None, sent_before: bool
    ) -> Outcome:
        """Send and confirm; `started` (perf_counter) is when the call came in: the latency's origin."""
        d = self.devices[req.device]
        timeout = self.cfg.commands.timeout_s
        if isinstance(d.profile, MqttProfile):
            outcome, error, detail = await self._mqtt(d, req, key, cmd_id, timeout, sent_before)
        else:
            outcome, error, detail = await self._modbus(d, req, key, cmd_id, timeout, check, sent_before)
        latency_ms = (time.perf_counter() - started) * 1000 if not sent_before else None
        return await self._finish(req, key, cmd_id, outcome, error, detail, latency_ms)

    async def _sending(self, req: Request, key: str, cmd_id: str) -> None:
        """The command is in the state database, marked sent, before its first byte goes out.
        Commands starting in the same moment share one transaction (one fsync)."""
        now = self.clock()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._beginning.append(((key, cmd_id, req.fingerprint(), req.device, req.to_json(), now, now), done))
        if len(self._beginning) == 1:
            asyncio.get_running_loop().call_soon(self._flush_beginning)
        await asyncio.shield(done)

    def _flush_beginning(self) -> None:
        batch, self._beginning = self._beginning, []
        try:
            self.journal.begin_commands([row for row, _ in batch])
        except Exception as e:
            for _, done in batch:
                if not done.done():
                    done.set_exception(e)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _mqtt(
        self, d: DeviceEntry, req: Request, key: str, cmd_id: str, timeout: float | None, sent_before: bool
    ) -> tuple[str, str | None, str]:
        profile = d.profile
        assert isinstance(profile, MqttProfile) and d.decoder is not None and self.mqtt is not None
        wire = encode_mqtt_command(profile, req.op, req.params, cmd_id)
        topic = d.decoder.command_topic(
            d.id, self.cfg.site, wire.channel, d.config.mqtt.topic if d.config.mqtt else None
        )
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[cmd_id] = waiter
        self._ack_parts[cmd_id] = req.part
        limit = timeout or (wire.ack.timeout_s if wire.ack else 10.0)
        try:
            if not sent_before:
                await self._sending(req, key, cmd_id)
            # The same id again after a restart is safe: the device re-sends its first ack. The
            # broker drops it once we stop waiting (MQTT 5 Message Expiry): a cabinet back after
            # our 504 must not open a slot nobody is standing at. A second less than the wait:
            # brokers count whole seconds (Mosquitto drops a message up to 1 s past its expiry).
            self.mqtt.publish(topic, wire.payload, qos=1, expiry_s=limit - 1.0)
            ack = await asyncio.wait_for(waiter, limit)
        except TimeoutError:
            self.late.timed_out(cmd_id)  # its ack may still come: it amends the audit (late.py)
            return "timeout", "no_answer", f"{d.id} did not answer within {limit:g} s"
        finally:
            self._acks.pop(cmd_id, None)
            self._ack_parts.pop(cmd_id, None)
        spec = wire.ack
        ok = ack.get(spec.ok_field if spec else "ok")
        if ok is True:
            return "confirmed", None, f"{d.id} confirmed {req.op} of {req.part}"
        error = ack.get(spec.error_field) if spec and spec.error_field else None
        return "failed", str(error or "refused"), f"{d.id} refused {req.op} of {req.part}: {error}"

    async def _modbus(
        self,
        d: DeviceEntry,
        req: Request,
        key: str,
        cmd_id: str,
        timeout: float | None,
        check: Check | None,
        sent_before: bool,
    ) -> tuple[str, str | None, str]:
        profile, m, plan = d.profile, d.config.modbus, d.plan
        assert isinstance(profile, ModbusProfile) and m is not None and plan is not None
        wire = encode_modbus_command(profile, req.op, req.params)
        confirm = wire.confirm or Confirmation((), (), 5.0)
        limit = timeout or confirm.timeout_s
        line = self.lines[m.bus]
        deadline = time.monotonic() + limit
        before = await self._fresh(d)
        if before is None:
            if sent_before:
                self.late.timed_out(cmd_id, d.id, (confirm, False))
                return "timeout", "no_answer", f"{d.id} did not answer after the gateway restarted"
            return "offline", "no_answer", f"{d.id} did not answer: nothing was written"
        if not sent_before:
            refused = check(before) if check is not None else None
            if refused is not None:
                return "refused", refused.code, refused.detail
            if confirm.when and confirm.check(before) == "confirmed":
                return "refused", "already_open", f"{req.part} of {d.id} is already open: nothing was written"
        # A fault bit left over from an earlier pulse proves nothing about this one.
        stale_fault = any(c.holds(before) for c in confirm.fail_when)
        if not sent_before:
            await self._sending(req, key, cmd_id)  # from here on, never written again
            try:
                for w in wire.writes:
                    await line.write(m.unit, w.table, w.address, w.value)
            except ModbusFailure as e:
                log.warning("%s: writing %s failed (%s); reading back whether it took", d.id, req.op, e)
        verdict = "pending"
        while time.monotonic() < deadline:
            values = await self._fresh(d)
            if values is not None:
                verdict = confirm.check(values)
                if verdict == "failed" and stale_fault:
                    verdict = "confirmed" if all(c.holds(values) for c in confirm.when) and confirm.when else "pending"
                if verdict != "pending":
                    break
            await asyncio.sleep(READ_BACK_PERIOD_S)
        if verdict == "confirmed":
            return "confirmed", None, f"{d.id}: {req.part} read back open"
        if verdict == "failed" or stale_fault:
            return "failed", "jammed", f"{d.id}: the lock of {req.part} did not open (lock-fault bit)"
        self.late.timed_out(cmd_id, d.id, (confirm, stale_fault))  # the poller's readings may still answer
        return "timeout", "no_answer", f"{d.id}: {req.part} not read back open within {limit:g} s"

    async def _fresh(self, d: DeviceEntry) -> dict[str, Any] | None:
        """The board's values from a read that starts after this call (None: it did not answer).

        Commands in flight on one board share each read: 20 doors confirmed at once cost the
        line one read a round, not twenty.
        """
        reads = self._reads.setdefault(d.id, _Reads())
        if reads.next is None:
            reads.next = asyncio.get_running_loop().create_future()
        waiter = reads.next
        if reads.task is None or reads.task.done():
            reads.task = self._spawn(self._reader(d, reads))
        return await asyncio.shield(waiter)

    async def _reader(self, d: DeviceEntry, reads: _Reads) -> None:
        m, plan = d.config.modbus, d.plan
        assert m is not None and plan is not None
        line = self.lines[m.bus]
        while reads.next is not None:
            waiter, reads.next = reads.next, None
            try:
                values: dict[str, Any] | None = await line.read_plan(m.unit, plan)
            except ModbusFailure:
                values = None
            if not waiter.done():
                waiter.set_result(values)

    async def _finish_now(self, req: Request, key: str, outcome: str, error: str, detail: str) -> Outcome:
        """An outcome decided without sending anything (busy, offline): audited and keyed too."""
        return await self._finish(req, key, uuid.uuid4().hex, outcome, error, detail, 0.0)

    async def _finish(
        self,
        req: Request,
        key: str,
        cmd_id: str,
        outcome: str,
        error: str | None,
        detail: str,
        latency_ms: float | None,
    ) -> Outcome:
        row = audit_row(
            at_ns=self.clock(),
            device=req.device,
            part=req.part,
            action=req.action,
            caller=req.caller,
            reason=req.reason,
            outcome=AUDIT_OUTCOME.get(outcome, "refused"),
            error=error,
            latency_ms=latency_ms,
            command_id=cmd_id,
        )
        status = HTTP_STATUS[outcome]

        def body_of(audit_id: int) -> dict[str, Any]:
            record = self.audit_out({**row, "id": audit_id})
            return record if status == 200 else {"error": error or outcome, "detail": detail, "audit": record}

        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._finishing.append(
            {
                "key": key,
                "id": cmd_id,
                "fingerprint": req.fingerprint(),
                "device": req.device,
                "request": req.to_json(),
                "created_ns": row["at_ns"],
                "status": status,
                "audit": row,
                "outcome": body_of,
                "done": done,
            }
        )
        if len(self._finishing) == 1:
            asyncio.get_running_loop().call_soon(self._flush_finishing)
        try:
            body = await asyncio.shield(done)
        finally:
            if outcome == "timeout":
                self.late.settled(cmd_id, req.device, req.part, req.action, detail)
        self.stats[outcome] = self.stats.get(outcome, 0) + 1
        log.info("%s %s %s by %s (%s): %s", req.action, req.device, req.part, req.caller.actor, outcome, detail)
        return Outcome(status, body)

    def _flush_finishing(self) -> None:
        """The outcomes of this moment: their audit lines in the outbox (one commit), then the
        audit rows and each key's outcome in the state database (one transaction). Commands that
        end together share the two commits."""
        batch, self._finishing = self._finishing, []
        try:
            try:
                self.outbox.append([audit_line(self.cfg.site, f["audit"]) for f in batch])
                exported = True
            except OutboxFull:
                exported = False
                self._audit_refused(len(batch))
            bodies = self.journal.finish_commands(batch, exported)
        except Exception as e:
            for f in batch:
                if not f["done"].done():
                    f["done"].set_exception(e)
            return
        for f, body in zip(batch, bodies, strict=True):
            if not f["done"].done():
                f["done"].set_result(body)

    def audit_out(self, row: dict[str, Any]) -> dict[str, Any]:
        """An audit row as the API shows it."""
        out = {k: v for k, v in row.items() if k not in ("at_ns", "exported")}
        out["at"] = iso_time(row["at_ns"], self.cfg.timezone)
        return out

    def _export(self, rows: list[dict[str, Any]]) -> None:
        try:
            self.outbox.append([audit_line(self.cfg.site, r) for r in rows])
        except OutboxFull:
            self._audit_refused(len(rows))
            return
        self.journal.audit_exported([r["id"] for r in rows])
        if self._refused_since is not None:
            log.warning("the outbox takes audit records again (%d were kept meanwhile)", self._refused_count)
            self._refused_since, self._refused_count = None, 0

    def _audit_refused(self, n: int) -> None:
        """A full outbox refused audit records (kept here, retried each second): one line when it
        starts, one when it ends, not one a second."""
        self.stats["audit_unexported"] += n
        self._refused_count += n
        if self._refused_since is None:
            self._refused_since = self.clock()
            log.error("the outbox is full of audit records: kept in the state database and retried each second")

    def deny(self, req: Request, detail: str) -> None:
        """A refused authorisation is audited too (someone tried)."""
        row = audit_row(
            at_ns=self.clock(),
            device=req.device,
            part=req.part,
            action=req.action,
            caller=req.caller,
            reason=req.reason,
            outcome="denied",
            error="forbidden",
        )
        row_id = self.journal.add_audit(row)
        self._export([{**row, "id": row_id}])

    # -- time, restart, stop -----------------------------------------------------------------------

    def tick(self, now_ns: int) -> None:
        """Retry audit records a full outbox refused; forget old audit rows and keys now and then."""
        rows = self.journal.unexported_audit()
        if rows:
            self._export(rows)
        for ticker in self.tickers:
            ticker(now_ns)
        if now_ns - self._last_purge >= PURGE_EVERY_NS:
            self._last_purge = now_ns
            c = self.cfg.commands
            self.journal.purge_commands(now_ns - int(c.audit_keep_days * 86400e9), now_ns - int(c.keys_keep_h * 3600e9))

    def recover_all(self) -> None:
        """Commands a stopped gateway left pending: settle each (without sending anything twice).
        And a snapshot of each device that answers one (its retained status came before the link
        was ours)."""
        for d in self.devices.values():
            self.snapshot(d.id)
        for row in self.journal.pending_commands():
            self._recover(row)

    def _recover(self, row: tuple[Any, ...]) -> asyncio.Task[Outcome]:
        key, cmd_id, _fp, device, request, created_ns, sent_ns = row[:7]
        task = self._running.get(key)
        if task is not None:
            return task
        req = Request.from_json(device, json.loads(request))
        now = self.clock()
        if device not in self.devices:
            coro = self._settle(req, key, cmd_id, "failed", "unknown_device", f"{device} is no longer configured")
        elif sent_ns is None:
            coro = self._settle(req, key, cmd_id, "unavailable", "interrupted", "the gateway stopped before sending")
        elif self.devices[device].protocol == "mqtt" and (now - created_ns) / 1e9 >= DEVICE_CMD_MEMORY_S:
            coro = self._settle(req, key, cmd_id, "timeout", "no_answer", "the gateway stopped awaiting the answer")
        else:
            # MQTT: the same id again (the device answers a repeat with its first ack, it does not
            # execute it twice); Modbus: read back only, never a second pulse.
            coro = self._execute(req, key, cmd_id, created_ns, None, sent_before=True)
        task = self._spawn(coro)
        self._running[key] = task
        self._fingerprints[key] = req.fingerprint()
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return task

    async def _settle(self, req: Request, key: str, cmd_id: str, outcome: str, error: str, detail: str) -> Outcome:
        return await self._finish(req, key, cmd_id, outcome, error, detail, None)

    async def aclose(self) -> None:
        """Stop commands in flight; their rows stay pending and the next start settles them."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@dataclass
class _Reads:
    next: asyncio.Future[dict[str, Any] | None] | None = None  # what the next read answers
    task: asyncio.Task[Any] | None = None


def _ack_spec(profile: MqttProfile | ModbusProfile) -> Any:
    if isinstance(profile, MqttProfile):
        for cmd in profile.commands.values():
            if getattr(cmd, "ack", None) is not None:
                return cmd.ack
    return None
