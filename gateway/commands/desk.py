"""The command desk: the one way down to a device.

Every command is: authorised (by the caller, see audit.py), keyed (an Idempotency-Key, scoped to
the caller: a repeat gets the first outcome, and a key reused for another request is refused),
written to the state database before a byte goes out (ledger.py: so a restart neither forgets it
nor sends it twice), sent with the device's profile by its transport's sender (senders/), confirmed
by the device within a timeout (the ack of an MQTT device; the read-back of a Modbus board's door
sensor or lock-fault bit: a written coil proves nothing), and audited (state database, and the
outbox at Priority.AUDIT). When the outbox cannot take an audit record the command is refused
before it is sent: nothing is done that cannot be audited.

The desk is also a hub projection: acks arrive as canonical `ack` events and resolve the waiting
command; what rides on the desk (riders.py: pickup lockers, the watch of door openings) sees the events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from drivers.profiles.errors import CommandError
from gateway.commands.audit import audit_line, audit_row, iso_time
from gateway.commands.late import AlertPort, LateAnswers
from gateway.commands.ledger import CommandLedger
from gateway.commands.request import AUDIT_OUTCOME, HTTP_STATUS, Check, Outcome, Refused, Request
from gateway.commands.riders import Riders
from gateway.commands.senders import Attempt, Sender, cancel_all
from gateway.config.hall import HallConfig
from gateway.devices import DeviceEntry
from gateway.domain.canonical import ACK, STATUS, Event
from gateway.health import HealthBook
from gateway.store.journal import Journal
from gateway.store.outbox import Outbox, OutboxFull

__all__ = ["CommandDesk", "Outcome", "Refused", "Request"]

log = logging.getLogger(__name__)

AUDIT_ROOM_BYTES = 4096  # room an audit record needs, at most
PURGE_EVERY_NS = 3600 * 10**9


class CommandDesk:
    name = "commands"

    def __init__(
        self,
        cfg: HallConfig,
        devices: Mapping[str, DeviceEntry],
        journal: Journal,
        outbox: Outbox,
        health: HealthBook,
        senders: Mapping[str, Sender],
        alerts: AlertPort | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.cfg = cfg
        self.devices = devices
        self.journal = journal
        self.ledger = CommandLedger(journal)
        self.outbox = outbox
        self.health = health
        self.senders = senders  # by the device's protocol: mqtt, modbus
        self.clock = clock
        self.riders = Riders()
        self._running: dict[str, asyncio.Task[Outcome]] = {}  # key -> the command in flight
        self._busy: dict[tuple[str, str], str] = {}  # (device, part) -> key of the command in flight
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_purge = 0
        self._fingerprints: dict[str, str] = {}  # key -> fingerprint of the command in flight
        self._finishing: list[dict[str, Any]] = []  # outcomes waiting for their shared commit
        self.stats = {"confirmed": 0, "failed": 0, "timeout": 0, "late_acks": 0, "audit_unexported": 0}
        # A slot opened late explains its door_open too; a timeout raises an alert, its late answer resolves it.
        self.late = LateAnswers(journal, self._export, clock, self.stats, released=self.riders.released, alerts=alerts)
        self._refused_since: int | None = None  # the outbox refuses audit records since ...
        self._refused_count = 0

    def _sender(self, d: DeviceEntry) -> Sender:
        return self.senders[d.protocol]

    # -- projection: acks and readings come up through the hub ---------------------------------

    def apply(self, event: Event, now_ns: int) -> None:
        d = self.devices.get(event.device)
        if event.name == ACK and d is not None:
            heard = self._sender(d).heard(d, event)
            if heard is not None and heard.waited:
                if heard.part is not None and heard.ok:
                    # Released now: the door_open that follows (same batch, or later) is explained.
                    self.riders.released(event.device, heard.part, now_ns)
            elif heard is not None:
                self.stats["late_acks"] += 1
                if not self.late.answer(heard.cmd_id, heard.ok, heard.error, now_ns):
                    log.info("ack %s from %s for no waiting command (repeated, or unknown)", heard.cmd_id, d.id)
        elif event.name == STATUS and event.fields.get("online") is True:
            self.snapshot(event.device)  # connected again: what happened to its slots meanwhile
        self.late.reading(event, now_ns)  # a board's door read open after its command timed out
        self.riders.event(event, now_ns)

    def snapshot(self, device: str) -> None:
        """Ask the device for its state where its transport can (an MQTT device's `snapshot`
        command; its ack feeds the kind's projection)."""
        d = self.devices.get(device)
        if d is not None:
            self._sender(d).snapshot(d)

    def state(self) -> dict[str, Any] | None:
        return self.riders.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.riders.restore(state)

    def conditions(self, now_ns: int) -> list[Any]:
        return self.riders.conditions(now_ns)

    # -- the one way down ------------------------------------------------------------------------

    async def run(self, req: Request, key: str, check: Check | None = None) -> Outcome:
        """Run a command once per (caller, key); a repeat gets the first outcome."""
        full_key = f"{req.caller.actor}\x1f{key}"
        running = self._running.get(full_key)
        row = self.ledger.command(full_key) if running is None else None
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
        d = self.devices[req.device]
        sender = self._sender(d)
        try:  # the profile's own check of the parameters, before anything is kept or sent
            sender.check(d, req)
        except CommandError as e:
            raise Refused(422, "bad_parameter", f"{req.device}: {e}", device=req.device) from None
        part = (req.device, req.part)
        if part in self._busy:
            return await self._finish_now(
                req, full_key, "refused", "busy", f"another command on {req.part} is in progress"
            )
        if not self.health.devices[req.device].online:
            return await self._finish_now(
                req, full_key, "offline", "device_offline", f"{req.device} is offline: nothing was sent"
            )
        unavailable = sender.unavailable()
        if unavailable is not None:
            return await self._finish_now(req, full_key, "unavailable", "broker_unavailable", unavailable)
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

        async def sending() -> None:
            # In the state database, marked sent, before its first byte goes out.
            now = self.clock()
            await self.ledger.begin((key, cmd_id, req.fingerprint(), req.device, req.to_json(), now, now))

        attempt = Attempt(req, cmd_id, self.cfg.commands.timeout_s, check, sent_before, sending)
        v = await self._sender(d).send(d, attempt)
        if v.outcome == "timeout":
            # Called before the audit row is written: its answer may still come (late.py).
            self.late.timed_out(cmd_id, d.id if v.watch else None, v.watch)
        latency_ms = (time.perf_counter() - started) * 1000 if not sent_before else None
        return await self._finish(req, key, cmd_id, v.outcome, v.error, v.detail, latency_ms)

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
            bodies = self.ledger.finish(batch, exported)
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
        self.ledger.audit_exported([r["id"] for r in rows])
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
        row_id = self.ledger.add_audit(row)
        self._export([{**row, "id": row_id}])

    # -- time, restart, stop -----------------------------------------------------------------------

    def tick(self, now_ns: int) -> None:
        """Retry audit records a full outbox refused; forget old audit rows and keys now and then."""
        rows = self.ledger.unexported_audit()
        if rows:
            self._export(rows)
        self.riders.tick(now_ns)
        if now_ns - self._last_purge >= PURGE_EVERY_NS:
            self._last_purge = now_ns
            c = self.cfg.commands
            self.ledger.purge(now_ns - int(c.audit_keep_days * 86400e9), now_ns - int(c.keys_keep_h * 3600e9))

    def recover_all(self) -> None:
        """Commands a stopped gateway left pending: settle each (without sending anything twice).
        And a snapshot of each device that answers one (its retained status came before the link
        was ours)."""
        for d in self.devices.values():
            self.snapshot(d.id)
        for row in self.ledger.pending():
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
        elif _forgotten(self._sender(self.devices[device]).remembers_s, (now - created_ns) / 1e9):
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
        await cancel_all(self._tasks)
        for sender in self.senders.values():
            await sender.aclose()  # the read-backs shared by a board's commands


def _forgotten(remembers_s: float | None, age_s: float) -> bool:
    """The device no longer remembers a command id this old: sending it again would run it twice."""
    return remembers_s is not None and age_s >= remembers_s
