"""What a device kind is: its configuration parameters and settings, the signals its profile must
provide, its health rules, its projections and the stores they keep in the state database. One
package per kind; `gateway/kinds/registry.py` lists them.

A kind imports nothing of the transports: it is data and pure functions over canonical events,
and repositories (gateway/store/repository.py) for the records it keeps. Its HTTP routes live in
its package too (`api.py`), but only the API imports them (`Kind.router`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from gateway.domain.canonical import Event, Priority
from gateway.domain.conditions import Condition
from gateway.domain.health import Problem
from gateway.i18n.entry import Entry
from gateway.store.repository import Repository
from gateway.store.staged import Staged

if TYPE_CHECKING:
    from prometheus_client.core import Metric


@dataclass(frozen=True)
class Param:
    """A device parameter of the hall file (`devices[].<name>`) that only some kinds take: its
    type and its constraints (a pydantic `Field`), declared by the kind that brings it
    (`Kind.device_params`); the configuration composes the device model from every registered
    kind's (gateway/config/devices.py)."""

    type: Any
    field: Any = None  # pydantic Field(None, ...) with the constraints; None: any value of the type


# Where a device stands (a people counter: the zone its IN leads into): any kind may take it.
COMMON_PARAMS: Mapping[str, Param] = {"zone": Param(str)}

LOW_BATTERY_PERCENT = 20


Record = tuple[Priority, str]  # a line of line protocol for the outbox, with its class


class Projection(Protocol):
    """A consumer of canonical events, fed by the hub after the commit (one error boundary each).

    `apply` may return records it derives (e.g. a zone's occupancy series): the hub commits them
    right after the batch. `state()`/`restore()` carry what must outlive a restart through the
    state database. A projection may also be `HasConditions` and `AfterBatch` (below).
    """

    name: str

    def apply(self, event: Event, now_ns: int) -> list[Record] | None: ...

    def state(self) -> dict[str, Any] | None: ...

    def restore(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class HasConditions(Protocol):
    """A projection with something to say to the alert lifecycle: what holds now (a zone over
    capacity, a post left empty), asked every second (gateway/ingest/hub.py's `conditions`)."""

    def conditions(self, now_ns: int) -> list[Condition]: ...


@runtime_checkable
class AfterBatch(Protocol):
    """A projection called once after each batch has been applied (e.g. to look up and stage the
    batch's records together rather than one event at a time)."""

    def after_batch(self, now_ns: int) -> None: ...


class StateDatabase(Protocol):
    """What a projection sees of the open state database (gateway/store/journal.py's Journal)."""

    path: Path


@runtime_checkable
class KeepsRecords(Protocol):
    """A projection that keeps records in its kind's `stores`: once the state database is open (and
    every registered kind's stores migrated in it), the runtime attaches it, and calls the close it
    returns at shutdown, which writes what the last batch staged. The hub commits what its `store`
    staged before a batch is acknowledged (gateway/ingest/hub.py)."""

    @property
    def store(self) -> Staged | None: ...  # None until attached

    def attach(self, journal: StateDatabase) -> Callable[[], None]: ...


# What a kind sees of the hall and its devices: the configuration and the compiled devices provide
# these attributes (and more), so a kind imports neither gateway/config/hall.py nor gateway/devices.py
# and the dependency points one way: configuration -> registry -> kinds.


class WorkingHoursView(Protocol):
    days: Sequence[str]
    start: time
    end: time
    holidays: Sequence[date]
    workdays: Sequence[date]


class ZoneView(Protocol):
    id: str
    name: str
    capacity: int
    reset_at: time | str | None  # "never", or None: the kind's default
    reset_counters: bool


class PostView(Protocol):
    window: str
    a: str
    b: str | None


class KindContext(Protocol):
    """The hall-wide settings a kind's projections read. A kind with a section of its own extends it
    with that section (e.g. `ratings: Ratings`, in its settings module)."""

    site: str
    timezone: str
    working_hours: WorkingHoursView
    zones: Sequence[ZoneView]
    posts: Sequence[PostView]


class DeviceParams(Protocol):
    """A device's configuration as a kind reads it: the kind parameters and its poll period."""

    id: str
    kind: str
    zone: str | None
    from_zone: str | None
    window: str | None
    slots: int | None
    doors: int | None
    poll_interval_s: float


class PlanView(Protocol):
    wraps: Mapping[str, int]  # where a counter register wraps, by signal


class DeviceView(Protocol):
    """A device of the hall with its compiled profile (gateway/devices.py's DeviceEntry)."""

    id: str
    kind: str
    config: DeviceParams
    plan: PlanView | None  # Modbus: the compiled read plan


# (hall, devices) -> projection. The hall is a KindContext with the kind's own section.
ProjectionFactory = Callable[[Any, Mapping[str, DeviceView]], Projection]
Rule = Callable[[Mapping[str, Any], int], list[Problem]]  # (info, now_ns) -> problems
Fold = Callable[[dict[str, Any], Event], None]  # folds a device's event into its info
Alarm = Callable[[Event], Condition | None]  # an event that opens an alert only a person closes
# The read model (gateway/view.py's View) -> the kind's metric families, at scrape time. The kind's
# module declares what it reads of the read model as a Protocol, so the kind imports no view.
Metrics = Callable[[Any], Iterable["Metric"]]


Problems = list[tuple[str, str]]  # (field path, message), as the configuration reports them


@dataclass(frozen=True)
class Settings:
    """A section of the hall file that belongs to one kind (`ratings:`, `lockers:`, ...): the hall
    configuration (gateway/config/hall.py) composes every registered kind's section under its key,
    with the same field paths in its errors as any other section."""

    key: str  # the section's key at the top of the hall file
    model: type[BaseModel]  # its pydantic model; every field has a default (the section is optional)
    # Checks of the whole hall once it validated (e.g. a reset time against the working hours):
    # raise ValueError with the message (reported at the top level, as the hall's own checks).
    check: Callable[[Any], None] | None = None
    # What the section names among the hall's devices (ids, slots): (field path, message) each;
    # called with the section and the devices that validated, also for a file that did not.
    references: Callable[[Any, Sequence[DeviceParams]], Problems] | None = None
    # Fields inside the section that name an environment variable holding a secret (`notify.token_env`).
    secrets: tuple[str, ...] = ()
    # A plain class whose methods the hall configuration gains (`cfg.zone_reset_at(zone)`).
    methods: type | None = None


@dataclass(frozen=True)
class Fragment:
    """A part of a built-in page that a kind brings: a script in its package (`pages/<name>.js`,
    with `pages/<name>.css` beside it if it has one), served at /web/fragments/<kind>/<name>.js.
    The page runs it (`HG.fragment(...)`) in a hall that has a device of the kind, for a token that
    may call every route it `needs`. The routes it calls are declared here, by a name of its own,
    so the page's code names no kind's route: the script asks `ctx.call("slots", {device})`."""

    name: str
    script: Path
    # its name for a route -> "METHOD /api/v1/path/{param}" (as GET /api/v1/me's `may` spells it)
    routes: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # of `routes`: without one of these the token does not get the fragment

    @property
    def style(self) -> Path | None:
        css = self.script.with_suffix(".css")
        return css if css.is_file() else None


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    params: frozenset[str] = (
        frozenset()
    )  # which device parameters this kind takes (COMMON_PARAMS, its own, another kind's)
    required_params: frozenset[str] = frozenset()
    device_params: Mapping[str, Param] = field(default_factory=dict)  # the parameters it brings
    # canonical event -> fields a profile of this kind must be able to provide for it
    signals: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # What an event may lack (a field a profile leaves out: not sent, null, or a vendor's "no
    # value"), applied by gateway/kinds/contract.py to every decoded event before it is stored.
    # canonical event -> fields it cannot do without: an event lacking one is quarantined.
    required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # canonical event -> (field, event): an event lacking the field is that other event.
    without: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # telemetry fields kept as the device's latest info (the health rules read them)
    info: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()
    fold: Fold | None = None
    alarm: Alarm | None = None
    projections: tuple[ProjectionFactory, ...] = ()
    # The kind's own tables in the state database: repositories with their migrations, which the
    # runtime has the Journal migrate for every registered kind (its projections open them: KeepsRecords).
    stores: tuple[type[Repository], ...] = ()
    settings: Settings | None = None
    # Its families on /metrics (gateway/metrics.py yields every registered kind's, whether or not the
    # hall has a device of it, so a scrape's families do not depend on the hall's devices).
    metrics: Metrics | None = None
    # Its HTTP routes: "module:attribute" of a FastAPI APIRouter (its package's `api.py`), which the
    # API includes for every registered kind. Named, not imported: the routes import the read model,
    # which imports the configuration, which imports the registry and so this package (a cycle);
    # and the kind itself stays free of FastAPI.
    router: str | None = None
    # A kiosk token (`api.tokens[].locker`) may be bound to a device of this kind.
    kiosk: bool = False
    # Read APIs (protocols of gateway/kinds/reads.py) -> the class of its projection that provides
    # each: how a cross-kind feature or the read model finds it without naming the kind.
    provides: Mapping[type, type] = field(default_factory=dict)
    # What it adds to a running gateway of a hall that has one: "module:attribute" of a function
    # (gateway.kinds.wiring.Running) -> Parts (riders on the command desk, supervised tasks, state
    # savers, what its routes read). Named, not imported, for the same reason as `router`.
    runs: str | None = None
    # What a person reads for it (Chinese first): the pages show it, with `name` beside it.
    label: str = ""
    # What it adds to the built-in pages (dashboards/web/): page -> its fragment there, e.g.
    # {"staff": Fragment("slots", ...)}: the slot grid of its devices on the staff page. GET
    # /api/v1/kinds lists them and the pages load them: the pages know fragments, never kinds.
    pages: Mapping[str, Fragment] = field(default_factory=dict)
    # Its words in the catalogue (gateway/i18n/catalogue.py), from its package's words.py: its
    # error codes (code, or `code/case`) -> Entry, and its values (states, reasons) by group -> label.
    errors: Mapping[str, Entry] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The words its page fragments show (`HG.t(key)`): key -> (中文, English), beside the pages' own.
    page_words: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # What its health problems say (Problem.code -> Entry, its specifics in `[...]`), beside zh_CN.SUMMARIES.
    summaries: Mapping[str, Entry] = field(default_factory=dict)
    # Its alerts that belong to certain roles: rule -> the roles that may close one (a 差评 is the
    # managers' to handle in its work order, not the technician's to close).
    closed_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def problems(self, info: Mapping[str, Any], now_ns: int) -> list[Problem]:
        """Why an online device of this kind is degraded, from its latest info."""
        return [p for rule in self.rules for p in rule(info, now_ns)]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def low_battery(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    battery = _number(info.get("battery"))
    if battery is not None and battery < LOW_BATTERY_PERCENT:
        return [Problem("low_battery", f"battery low ({battery:g} %)", params={"battery": f"{battery:g}"})]
    return []


def doors_left_open(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    """`open_since` (part -> ns), kept by the kind's fold: open longer than the kind allows."""
    limit_ns = int(info.get("left_open_after_s", 120)) * 10**9
    out = []
    for part, since in sorted(info.get("open_since", {}).items()):
        if now_ns - since > limit_ns:
            seconds = (now_ns - since) // 10**9
            out.append(Problem("door_left_open", f"{part} open for {seconds} s", part, {"seconds": seconds}))
    return out


def jammed(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    return [Problem("jammed_lock", f"{part} jammed", part) for part in info.get("jammed", ())]


def set_part(info: dict[str, Any], key: str, part: str, on: bool) -> None:
    """Add or remove a part (slot, door) in one of the info's sorted part lists."""
    parts = [p for p in info.get(key, ()) if p != part]
    info[key] = sorted([*parts, part]) if on else parts
