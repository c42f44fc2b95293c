"""Pickup lockers (24小时自助取件柜): deposit by staff, pickup by the locker's kiosk with a code.

A code is 6 digits from `secrets`, unique among the active codes of the hall, and stored only as
HMAC-SHA256 under a per-gateway key (kept in the state database). Why a keyed hash and not
scrypt: a 6-digit code has 10^6 values, so no hash, however slow, keeps it from someone who holds
the database and the means to try them all; what protects a code is its expiry, the lockout and
the door itself. A keyed hash costs microseconds, so a kiosk's tries cannot tie up the gateway's
one core, and it is deterministic, so uniqueness is a unique index and a lookup is by value.
Without the key (a copied outbox, an InfluxDB export, a log line) the hash says nothing.

Wrong codes lock a locker out (gateway/domain/lockout.py). The record of an item closes when the
board reads its door closed and its item sensor empty after the pickup opened it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from drivers.profiles.model import ModbusProfile
from gateway.commands.audit import Caller, iso_time
from gateway.commands.desk import CommandDesk, Outcome, Refused, Request
from gateway.commands.notify import PickupNotifier
from gateway.commands.riders import Rider
from gateway.domain.canonical import READING, Event
from gateway.domain.conditions import Condition
from gateway.domain.lockout import Lockout
from gateway.kinds.wiring import Parts, Running, Webhook

log = logging.getLogger(__name__)

CODE_DIGITS = 6
KEY_NAME = "pickup_code_hmac"
Notifier = Callable[[dict[str, Any], str, str], None]  # (item, code, qr payload): tell the applicant


def log_notifier(item: dict[str, Any], code: str, qr: str) -> None:
    # Never the code itself: the log is read by more people than the applicant.
    log.info(
        "pickup code issued: item %s for %s in %s door %s (the code goes to the applicant only)",
        item["item"],
        item["applicant"],
        item["locker"],
        item["door"],
    )


class PickupDesk:
    def __init__(self, desk: CommandDesk, clock: Callable[[], int] = time.time_ns) -> None:
        self.desk = desk
        self.cfg = desk.cfg
        self.journal = desk.journal
        self.clock = clock
        lc = self.cfg.lockers
        self.lockout = Lockout(lc.lockout_failures, int(lc.lockout_window_s * 1e9), int(lc.lockout_s * 1e9))
        self._key = self.journal.secret_key(KEY_NAME, lambda: secrets.token_bytes(32))
        # Active items by id, loaded once: a kiosk's try and each poll read memory, not the database.
        self.active: dict[int, dict[str, Any]] = {i["id"]: i for i in self.journal.pickup_items()}
        self.notifiers: list[Notifier] = [log_notifier]
        # The webhook for applicants (lockers.notify): its queue is drained by the runtime's sender.
        self.notifier = PickupNotifier(self.cfg, self.journal) if self.cfg.lockers.notify else None
        tick: Callable[[int], None] | None = None
        if self.notifier is not None:
            self.notifiers.append(self.notifier.issued)
            notifier = self.notifier
            tick = lambda now: notifier.remind(list(self.active.values()), now)  # noqa: E731
        # Its lockout is kept through a restart under the rider's name.
        state = (self.lockout.state, self.lockout.restore)
        desk.riders.add(Rider("lockout", on_event=self.on_event, conditions=self.conditions, tick=tick, state=state))

    def code_hash(self, code: str) -> bytes:
        return hmac.new(self._key, code.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def _locker(self, locker: str) -> Any:
        d = self.desk.devices.get(locker)
        if d is None or d.kind != "pickup_locker":
            raise Refused(404, "unknown_locker", f"no pickup locker {locker!r} in this hall", locker=locker)
        return d

    def _index(self, locker: str, door: int) -> int:
        """The door's position in the board's bit lists (the profile's unlock numbering)."""
        d = self._locker(locker)
        profile = d.profile
        assert isinstance(profile, ModbusProfile)
        cmd = profile.commands.get("unlock")
        base = getattr(cmd, "index_base", 0)
        doors = d.config.doors
        if doors is not None and not base <= door < base + doors:
            raise Refused(404, "unknown_door", f"{locker} has doors {base}-{base + doors - 1}, not {door}", door=door)
        return door - base

    # -- deposit --------------------------------------------------------------------------------

    async def deposit(
        self, caller: Caller, locker: str, door: int, item: str, applicant: str, key: str
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """Open a free door for staff and issue the item's pickup code: (outcome, the issued code)."""
        index = self._index(locker, door)

        def free(values: dict[str, Any]) -> Refused | None:
            # Checked for a new command only (a repeated key gets its first outcome instead).
            if any(i["locker"] == locker and i["door"] == door for i in self.active.values()):
                return Refused(409, "door_occupied", f"{locker} door {door} holds an item not yet collected", door=door)
            items = values.get("item_present")
            if isinstance(items, list) and index < len(items) and items[index]:
                return Refused(
                    409, "door_not_empty", f"the item sensor of {locker} door {door} sees something", door=door
                )
            return None

        req = Request("deposit", locker, "unlock", {"door": door}, f"door {door}", caller, f"{item} for {applicant}")
        outcome = await self.desk.run(req, key, free)
        if not outcome.ok:
            return outcome, None
        if outcome.repeat:
            raise Refused(
                409,
                "already_deposited",
                "this Idempotency-Key's deposit is done; its code was shown once and is stored only as a hash",
            )
        now = self.clock()
        expires = now + int(self.cfg.lockers.code_ttl_h * 3600e9)
        row = {
            "locker": locker,
            "door": door,
            "item": item,
            "applicant": applicant,
            "deposited_by": caller.actor,
            "deposited_ns": now,
            "expires_ns": expires,
        }
        for _ in range(50):  # a clash among active codes is rare (1 in 10^6 per active item): draw again
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            try:
                item_id = self.journal.add_pickup_item({**row, "code_hash": self.code_hash(code)})
            except sqlite3.IntegrityError as e:
                if "locker" in str(e):
                    raise Refused(409, "door_occupied", f"{locker} door {door} holds an item", door=door) from None
                continue
            break
        else:
            raise Refused(503, "no_free_code", "no unused pickup code found: too many active items")
        record = {
            **row,
            "id": item_id,
            "code_hash": self.code_hash(code),
            "state": "waiting",
            "opened_ns": None,
            "reminded_ns": None,
        }
        self.active[item_id] = record
        qr = f"{self.cfg.lockers.qr_prefix}:{self.cfg.site}:{locker}:{code}"
        for notify in self.notifiers:
            try:
                notify(record, code, qr)
            except Exception:
                log.exception("a pickup notifier failed (the code was still issued)")
        return outcome, {
            "item_id": item_id,
            "pickup_code": code,
            "expires_at": iso_time(expires, self.cfg.timezone),
            "qr": qr,
        }

    # -- pickup ---------------------------------------------------------------------------------

    async def pickup(self, caller: Caller, locker: str, code: str, key: str) -> tuple[Outcome, dict[str, Any]]:
        self._locker(locker)
        now = self.clock()
        until = self.lockout.locked_until(locker, now)
        if until is not None:
            raise _locked(until, now)
        digest = self.code_hash(code)
        match = None
        # Every active code of the locker is compared, in constant time, with no early exit.
        for item in [i for i in self.active.values() if i["locker"] == locker and i["state"] == "waiting"]:
            if hmac.compare_digest(item["code_hash"], digest):
                match = item
        if match is None:
            until = self.lockout.fail(locker, now)
            if until is not None:
                raise _locked(until, now)
            left = self.lockout.remaining(locker, now)
            raise Refused(403, "wrong_code", f"this code opens no door of {locker}; {left} tries left", left=left)
        if match["expires_ns"] <= now:
            raise Refused(410, "code_expired", "this code has expired: ask the hall's staff for the item")
        door = match["door"]
        req = Request(
            "pickup", locker, "unlock", {"door": door}, f"door {door}", caller, f"pickup of item {match['id']}"
        )
        outcome = await self.desk.run(req, key)
        if outcome.ok and match["state"] == "waiting":
            opened = self.clock()
            self.journal.set_pickup_state(match["id"], "opened", opened)
            match.update(state="opened", opened_ns=opened)
        return outcome, {"item_id": match["id"], "door": door, "item": match["item"]}

    # -- what the board reads -------------------------------------------------------------------

    def on_event(self, event: Event, now_ns: int) -> None:
        """Close an opened item's record when its door reads closed and its sensor empty; an item
        still there when the door closes again waits again (the code stays good)."""
        if event.name != READING:
            return
        doors, items = event.fields.get("door_open"), event.fields.get("item_present")
        if not isinstance(doors, list):
            return
        for item in [i for i in self.active.values() if i["locker"] == event.device and i["state"] == "opened"]:
            if event.ts_ns <= item["opened_ns"]:
                continue  # read before the door opened
            index = self._index(item["locker"], item["door"])
            if index >= len(doors) or doors[index]:
                continue
            present = isinstance(items, list) and index < len(items) and bool(items[index])
            if present:
                self.journal.set_pickup_state(item["id"], "waiting", event.ts_ns)
                item.update(state="waiting", opened_ns=None)
            else:
                self.journal.set_pickup_state(item["id"], "collected", event.ts_ns)
                del self.active[item["id"]]
                log.info("pickup item %s collected from %s door %s", item["id"], item["locker"], item["door"])

    def conditions(self, now_ns: int) -> list[Condition]:
        return [
            Condition(
                "item_expired",
                f"{i['locker']}/door {i['door']}",
                "warning",
                f"{i['locker']} door {i['door']}: {i['item']} for {i['applicant']} not collected by "
                f"{iso_time(i['expires_ns'], self.cfg.timezone)}",
                i["locker"],
                params={
                    "door": i["door"],
                    "item": i["item"],
                    "applicant": i["applicant"],
                    "expires": iso_time(i["expires_ns"], self.cfg.timezone)[:16].replace("T", " "),
                },
            )
            for i in self.active.values()
            if i["state"] == "waiting" and i["expires_ns"] <= now_ns
        ]

    def items(self, locker: str, state: str | None, now_ns: int) -> list[dict[str, Any]]:
        """Items of a locker for staff: waiting, expired (waiting past expiry), opened, collected."""
        self._locker(locker)
        states = ("collected",) if state == "collected" else ("waiting", "opened", "collected")
        if state in ("waiting", "expired", "opened"):
            states = ("opened",) if state == "opened" else ("waiting",)
        out = []
        for r in self.journal.pickup_items(locker=locker, states=states):
            expired = r["state"] == "waiting" and r["expires_ns"] <= now_ns
            if (state == "expired" and not expired) or (state == "waiting" and expired):
                continue
            tz = self.cfg.timezone
            out.append(
                {
                    "id": r["id"],
                    "door": r["door"],
                    "item": r["item"],
                    "applicant": r["applicant"],
                    "state": "expired" if expired else r["state"],
                    "deposited_by": r["deposited_by"],
                    "deposited_at": iso_time(r["deposited_ns"], tz),
                    "expires_at": iso_time(r["expires_ns"], tz),
                    "opened_at": iso_time(r["opened_ns"], tz) if r["opened_ns"] else None,
                    "collected_at": iso_time(r["closed_ns"], tz) if r["closed_ns"] else None,
                }
            )
        return out


def _locked(until: int, now: int) -> Refused:
    wait = max(1, -(-(until - now) // 10**9))
    return Refused(
        429,
        "locked_out",
        f"too many wrong codes at this locker: try again in {wait} s",
        {"Retry-After": str(wait)},
        wait=wait,
    )


def run(running: Running) -> Parts:
    """`Kind.runs`: the pickup desk (its rider on the command desk) for the routes, and the
    applicants' webhook (`lockers.notify`), drained like the alerts' under target "pickup"."""
    pickup = PickupDesk(running.desk)
    parts = Parts(serves=[pickup])
    notify = running.cfg.lockers.notify
    if pickup.notifier is not None and notify is not None:
        parts.webhooks.append(Webhook("pickup", notify, pickup.notifier.wake))
    return parts
