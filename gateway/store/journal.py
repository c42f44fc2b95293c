"""The state database: what must outlive a restart and be queried (SQLite, one file).

The outbox forgets what it delivered; this file keeps the hall's state, one repository per
feature (gateway/store/repos/), each with its own migrations (gateway/store/repository.py):
health transitions per device, the projections' state, the quarantine of messages that could not
be decoded, alerts and their deliveries, commands by Idempotency-Key and their audit trail,
pickup items and the gateway's secret key, zone occupancy minutes. The Journal owns the file's
one connection of its own, migrates the repositories it is handed (REPOSITORIES and a caller's
`stores`) and exposes them as `journal.repos`; its methods of old forward to them, so that callers
keep working unchanged.

The device kinds' own tables (a kind's `stores`: records such as ratings and punches, written on
connections of their own, gateway/store/staged.py says why) are the caller's `stores`: the runtime
hands every registered kind's (gateway/kinds/registry.py's `stores()`). A file opened without them
does not get their tables, and its PRAGMA user_version stays below 7 until it does (repository.py).

Synchronous calls from the event loop thread, like the outbox: each is one short transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.store.repos.accounts import Accounts
from gateway.store.repos.alerts import Alerts
from gateway.store.repos.audit import Audit
from gateway.store.repos.commands import Commands
from gateway.store.repos.deliveries import Deliveries
from gateway.store.repos.health import HEALTH_HISTORY_PER_DEVICE, HealthHistory
from gateway.store.repos.ledger_reads import LedgerReads
from gateway.store.repos.occupancy import Occupancy
from gateway.store.repos.patrol import Patrol
from gateway.store.repos.pickup import PickupItems
from gateway.store.repos.quarantine import (
    QUARANTINE_PAYLOAD_BYTES,
    QUARANTINE_ROWS,
    Quarantine,
    Quarantined,
    QuarantineRow,
)
from gateway.store.repos.reminders import Reminders
from gateway.store.repos.report_runs import ReportRuns
from gateway.store.repos.reports import Reports
from gateway.store.repos.secrets import Secrets
from gateway.store.repos.staff import StaffOverlay
from gateway.store.repos.state import ProjectionState
from gateway.store.repos.violations import Violations
from gateway.store.repository import USER_VERSION_STEPS, Repository, SchemaError, migrate, versions
from gateway.store.sqlite import SqliteFile, connect_wal, transaction

__all__ = [
    "HEALTH_HISTORY_PER_DEVICE",
    "MIGRATIONS",
    "QUARANTINE_PAYLOAD_BYTES",
    "QUARANTINE_ROWS",
    "Journal",
    "JournalError",
    "QuarantineRow",
    "Quarantined",
]

log = logging.getLogger(__name__)

# The gateway's own repositories of the state database, in the order they migrate (the kinds'
# stores follow them, as the caller hands them).
REPOSITORIES: tuple[type[Repository], ...] = (
    HealthHistory,
    ProjectionState,
    Quarantine,
    Alerts,
    Deliveries,
    Commands,
    Audit,
    PickupItems,
    Secrets,
    Occupancy,
    Violations,
    Accounts,
    Patrol,  # after Violations: its tables refer to violations
    Reports,
    ReportRuns,
    LedgerReads,
    Reminders,
    StaffOverlay,
)

# What PRAGMA user_version counted when the file had one version: it stays len(MIGRATIONS).
MIGRATIONS = USER_VERSION_STEPS

JournalError = SchemaError  # the name gateway/runtime.py and the tests catch


@dataclass(frozen=True, slots=True)
class Repositories:
    """The Journal's repositories on its connection (the kinds' stores open connections of their own)."""

    health: HealthHistory
    state: ProjectionState
    quarantine: Quarantine
    alerts: Alerts
    deliveries: Deliveries
    audit: Audit
    commands: Commands
    pickup: PickupItems
    secrets: Secrets
    occupancy: Occupancy
    violations: Violations
    accounts: Accounts
    patrol: Patrol
    reports: Reports
    report_runs: ReportRuns
    ledger_reads: LedgerReads
    reminders: Reminders
    staff: StaffOverlay


class Journal:
    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], int] = time.time_ns,
        stores: Sequence[type[Repository]] = (),
    ) -> None:
        """`stores`: repositories beyond REPOSITORIES to migrate in this file (the device kinds')."""
        self.path = Path(path)
        self._clock = clock
        self._registered = (*REPOSITORIES, *stores)
        self.set_aside: Path | None = None
        # Shared with the kinds' stores' connections (gateway/store/staged.py): one WAL bound, and one
        # answer to "can the state database be written", which /readyz gives.
        self.file = SqliteFile.of(self.path, "state database")
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as e:
            # A state file we cannot read must not keep the hall's gateway down: keep it for a
            # person to look at and start afresh (the durable telemetry is in the outbox).
            self.set_aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            self.path.rename(self.set_aside)
            log.error(
                "state database %s cannot be opened (%s): moved it to %s and started an empty one",
                self.path,
                e,
                self.set_aside.name,
            )
            self.conn = self._open()
        c, k = self.conn, clock
        audit = Audit(c, k)
        self.repos = Repositories(
            health=HealthHistory(c, k),
            state=ProjectionState(c, k),
            quarantine=Quarantine(c, k),
            alerts=Alerts(c, k),
            deliveries=Deliveries(c, k),
            audit=audit,
            commands=Commands(c, k, audit),
            pickup=PickupItems(c, k),
            secrets=Secrets(c, k),
            occupancy=Occupancy(c, k),
            violations=Violations(c, k),
            accounts=Accounts(c, k),
            patrol=Patrol(c, k),
            reports=Reports(c, k),
            report_runs=ReportRuns(c, k),
            ledger_reads=LedgerReads(c, k),
            reminders=Reminders(c, k),
            staff=StaffOverlay(c, k),
        )

    def _open(self) -> sqlite3.Connection:
        conn = connect_wal(self.file, synchronous="FULL", busy_timeout_ms=1000)
        try:
            migrate(conn, self._registered, f"state database {self.path}")
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def version(self) -> int:
        """PRAGMA user_version: len(MIGRATIONS) for good (each repository has its own: `versions`)."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def versions(self) -> dict[str, int]:
        return versions(self.conn)

    def close(self) -> None:
        self.conn.close()

    def retry_writes(self) -> None:
        """Called every half second (gateway/runtime.py); does something only while the file cannot
        be written (gateway/store/writes.py): the writes waiting in memory, then a probe. Raises
        nothing but a bug: the outcome is the file's `writes`."""
        self.file.writes.retry(self.repos.state.probe)

    # -- writes that span two repositories: one transaction on the shared connection -----------

    def save_alerts(self, alerts: Sequence[Any], deliveries: Sequence[tuple[str, str]]) -> None:
        """Alert rows as they are now, and the deliveries (target, JSON) of their changes: one transaction."""
        now = self._clock()
        with transaction(self.conn) as c:
            Alerts.save_in(c, alerts)
            Deliveries.queue_in(c, deliveries, now)

    def queue_delivery(self, target: str, payload: str, reminded_item: int | None = None) -> None:
        """One delivery for `target` (and, for a reminder, its item marked reminded): one transaction."""
        now = self._clock()
        with transaction(self.conn) as c:
            Deliveries.queue_in(c, [(target, payload)], now)
            if reminded_item is not None:
                PickupItems.reminded_in(c, reminded_item, now)

    # -- the methods of old, forwarded to the repositories (new code: journal.repos.<feature>) -

    def add_transitions(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        self.repos.health.add_transitions(rows)

    def transitions(self, device: str, limit: int = HEALTH_HISTORY_PER_DEVICE) -> list[tuple[int, str, str]]:
        return self.repos.health.transitions(device, limit)

    def save_states(self, states: dict[str, dict[str, Any]]) -> None:
        self.repos.state.save_states(states)

    def load_state(self, name: str) -> dict[str, Any] | None:
        return self.repos.state.load_state(name)

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        self.repos.quarantine.quarantine(items)

    def quarantined(
        self, *, device: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[QuarantineRow]:
        return self.repos.quarantine.quarantined(device=device, limit=limit, before_id=before_id)

    def alert_rows(self, *, active: bool | None = None, limit: int = 500) -> list[tuple[Any, ...]]:
        return self.repos.alerts.alert_rows(active=active, limit=limit)

    def alert_row(self, alert_id: int) -> tuple[Any, ...] | None:
        return self.repos.alerts.alert_row(alert_id)

    def active_alert_row(self, rule: str, key: str) -> tuple[Any, ...] | None:
        return self.repos.alerts.active_alert_row(rule, key)

    def active_alerts_by_severity(self) -> dict[str, int]:
        return self.repos.alerts.active_alerts_by_severity()

    def max_alert_id(self) -> int:
        return self.repos.alerts.max_alert_id()

    def pending_deliveries(self, target: str, limit: int = 100) -> list[tuple[int, str]]:
        return self.repos.deliveries.pending_deliveries(target, limit)

    def delivered(self, delivery_id: int) -> None:
        self.repos.deliveries.delivered(delivery_id)

    def delivery_failed(self, delivery_id: int, error: str) -> None:
        self.repos.deliveries.delivery_failed(delivery_id, error)

    def pending_count(self, target: str) -> int:
        return self.repos.deliveries.pending_count(target)

    def save_occupancy_minutes(self, rows: Sequence[tuple[str, int, int, int, int, int]], keep_ns: int) -> None:
        self.repos.occupancy.save_occupancy_minutes(rows, keep_ns)

    def occupancy_minutes(self, zone: str, start_ns: int, end_ns: int) -> list[tuple[int, int, int, int, int]]:
        return self.repos.occupancy.occupancy_minutes(zone, start_ns, end_ns)

    def command(self, key: str) -> tuple[Any, ...] | None:
        return self.repos.commands.command(key)

    def pending_commands(self) -> list[tuple[Any, ...]]:
        return self.repos.commands.pending_commands()

    def begin_command(
        self,
        key: str,
        cmd_id: str,
        fingerprint: str,
        device: str,
        request: dict[str, Any],
        now_ns: int,
        sent_ns: int | None = None,
    ) -> None:
        self.repos.commands.begin_command(key, cmd_id, fingerprint, device, request, now_ns, sent_ns)

    def begin_commands(self, rows: Sequence[tuple[str, str, str, str, dict[str, Any], int, int | None]]) -> None:
        self.repos.commands.begin_commands(rows)

    def command_sent(self, key: str, now_ns: int) -> None:
        self.repos.commands.command_sent(key, now_ns)

    def finish_commands(self, items: Sequence[dict[str, Any]], exported: bool) -> list[dict[str, Any]]:
        return self.repos.commands.finish_commands(items, exported)

    def purge_commands(self, audit_before_ns: int, keys_before_ns: int) -> tuple[int, int]:
        return self.repos.commands.purge_commands(audit_before_ns, keys_before_ns)

    def add_audit(self, audit: dict[str, Any]) -> int:
        return self.repos.audit.add_audit(audit)

    def amend_audit(self, command_id: str, outcome: str, error: str | None, at_ns: int) -> dict[str, Any] | None:
        return self.repos.audit.amend_audit(command_id, outcome, error, at_ns)

    def audit_exported(self, ids: Sequence[int]) -> None:
        self.repos.audit.audit_exported(ids)

    def unexported_audit(self, limit: int = 500) -> list[dict[str, Any]]:
        return self.repos.audit.unexported_audit(limit)

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        """device, actor, start_ns, end_ns, limit, before_id: gateway/store/repos/audit.py."""
        return self.repos.audit.audit(**filters)

    def secret_key(self, name: str, make: Callable[[], bytes]) -> bytes:
        return self.repos.secrets.secret_key(name, make)

    def add_pickup_item(self, row: dict[str, Any]) -> int:
        return self.repos.pickup.add_pickup_item(row)

    def pickup_items(
        self, *, locker: str | None = None, states: Sequence[str] = ("waiting", "opened"), limit: int = 1000
    ) -> list[dict[str, Any]]:
        return self.repos.pickup.pickup_items(locker=locker, states=states, limit=limit)

    def set_pickup_state(self, item_id: int, state: str, at_ns: int) -> None:
        self.repos.pickup.set_pickup_state(item_id, state, at_ns)
