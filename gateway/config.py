"""The hall configuration: one YAML file, validated by pydantic, overridable from the environment.

Errors name the file, the field path and what to do. Secrets (API tokens, passwords) are never
read from the file: it names the environment variable that holds each one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.kinds.base import KIND_PARAMS
from gateway.kinds.registry import KINDS
from gateway.paths import PROFILES_DIR as DEFAULT_PROFILES_DIR

ENV_PREFIX = "HALLGATE_"
MIN_TOKEN_CHARS = 16  # an API token must resist guessing

# `kiosk`: a pickup locker's own keypad or QR reader, bound to that locker (its token names it).
# `viewer`: reads what any role reads and changes nothing: the wall screen's token, in a link on a
# PC in the public hall.
Role = Literal["technician", "staff", "duty_manager", "manager", "admin", "viewer", "kiosk"]
# The roles of people (the demo makes one token each); a kiosk token is a locker's, not a person's.
ROLES: tuple[str, ...] = tuple(r for r in get_args(Role) if r != "kiosk")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock_time(v: Any) -> Any:
    # YAML 1.1 reads an unquoted 3:00 as the number 180 (base 60), which pydantic would take
    # as 00:03:00: refuse numbers rather than reset at the wrong time.
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise ValueError(f'{v!r} is a number, not a time of day: write it quoted, e.g. "03:00"')
    return v


def parse_size(value: Any) -> int:
    """`64MiB`, `500MB`, `1048576` -> bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a size: write e.g. 256MiB, 500MB or a number of bytes")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


class Zone(Model):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = ""
    capacity: int = Field(gt=0)
    # When this zone's figures restart from 0 each night; default: occupancy.reset_at.
    # "never" for a zone open around the clock.
    reset_at: time | Literal["never"] | None = None
    # At that reset, also write the reset register of the counters counting into this zone
    # (their profile's `reset_counts` command, audited like any command). Off: only the
    # gateway's baseline restarts, and the counters' own totals keep growing (and wrap).
    reset_counters: bool = False

    _reset_time = field_validator("reset_at", mode="before")(_clock_time)

    @model_validator(mode="after")
    def _counters_reset_with_zone(self) -> Zone:
        if self.reset_counters and self.reset_at == "never":
            raise ValueError("reset_counters: the zone is never reset (reset_at: never): drop one of them")
        return self


class OccupancySettings(Model):
    """Zone occupancy: the nightly reset, over-capacity hysteresis, the gateway's own history."""

    reset_at: time | None = Field(
        time(3, 0), description="local time of the nightly reset, when the hall is closed; null: never"
    )
    hall_capacity: int | None = Field(None, gt=0, description="default: the sum of the zones' capacities")
    over_capacity_pct: float = Field(100.0, gt=0, description="a zone at or above this share of its capacity is over")
    clear_pct: float = Field(90.0, gt=0, description="... and stays over until it is below this share")
    stale_after_s: float = Field(10.0, gt=0, description="a counter silent this long makes its zones' counts suspect")
    history_days: int = Field(14, ge=1, le=400, description="how long the gateway keeps its own per-minute history")

    _reset_time = field_validator("reset_at", mode="before")(_clock_time)

    @model_validator(mode="after")
    def _hysteresis(self) -> OccupancySettings:
        if self.clear_pct > self.over_capacity_pct:
            raise ValueError(
                f"clear_pct {self.clear_pct:g} is above over_capacity_pct {self.over_capacity_pct:g}: "
                "an alert must clear below the level that opens it"
            )
        return self


class WorkingHours(Model):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field([], description="public holidays: no work even on a working weekday")
    workdays: list[date] = Field([], description="extra working days (调休), e.g. a Saturday worked for a holiday")

    @model_validator(mode="after")
    def _one_or_other(self) -> WorkingHours:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(
                f"{', '.join(d.isoformat() for d in both)} listed both as holiday and as extra working day: "
                "remove it from one of working_hours.holidays and working_hours.workdays"
            )
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}: working hours lie within one day")
        return self


class Lunch(Model):
    start: time = time(12, 0)
    end: time = time(13, 30)


class Post(Model):
    """A window post (AB岗): A is its staff member, B covers for A."""

    window: str = Field(min_length=1)
    a: str = Field(min_length=1, description="the A post's staff id")
    b: str | None = Field(None, description="the B post (cover) staff id")


class Ratings(Model):
    deadline_working_days: int = Field(15, ge=1, le=120, description="a 差评 work order's deadline")
    window_bad_limit: int = Field(3, ge=1, description="this many 差评 at one window in one day: a window alert")


class Attendance(Model):
    absence_limit_min: float = Field(30, gt=0, description="a post empty this long in working time is 空岗")
    lunch: Lunch | None = Lunch()
    touch_s: float = Field(2.0, ge=0, description="punches of one person this close are one touch")
    late_grace_min: float = Field(0, ge=0, description="a first in this long after start is not yet late")
    past_days: float = Field(31, gt=0, description="a punch dated earlier than this before now: a clock reset")
    future_s: float = Field(86400, gt=0, description="a punch dated later than this after now: a clock reset")


class LockboxStaff(Model):
    """Whose phone goes in which slot of one lockbox (the compliance view and its alert)."""

    device: str = Field(description="a lockbox's device id")
    slots: dict[str, int] = Field(description="staff id (as the attendance machine sends it) -> slot number")


class Phones(Model):
    """Staff who clocked in but whose phone is not in their slot (GET /api/v1/lockboxes/compliance)."""

    lockboxes: list[LockboxStaff] = []
    grace_min: float | None = Field(
        None, gt=0, description="in working time, a phone out of its slot this long after clocking in: an alert"
    )


class Token(Model):
    role: Role
    env: str = Field(description="name of the environment variable that holds the token")
    name: str | None = Field(
        None, max_length=64, description="who holds it, as the audit names them; default: the variable's name"
    )
    locker: str | None = Field(None, description="kiosk tokens only: the pickup locker (device id) it may open")

    @model_validator(mode="after")
    def _kiosk_locker(self) -> Token:
        if self.role == "kiosk" and self.locker is None:
            raise ValueError("a kiosk token is bound to one pickup locker: add locker: <device id>")
        if self.role != "kiosk" and self.locker is not None:
            raise ValueError(f"locker: only kiosk tokens are bound to a locker; remove it from this {self.role} token")
        return self

    @property
    def actor(self) -> str:
        return self.name or self.env


class Api(Model):
    # Never empty: "" would bind every interface (the API) or name no host (the broker).
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    tokens: list[Token] = []


class BrokerTls(Model):
    """MQTT over TLS. The broker's certificate is always verified and its name checked.

    Relative paths are taken from the working directory. Each file is checked at load, so a
    typo is a configuration error rather than a gateway that retries a handshake forever.
    """

    ca_file: Path | None = Field(
        None, description="PEM CA that signed the broker's certificate; default: the system's trust store"
    )
    cert_file: Path | None = Field(None, description="PEM client certificate, for mutual TLS")
    key_file: Path | None = Field(None, description="its unencrypted PEM private key")
    server_name: str | None = Field(
        None,
        description="the name the broker's certificate carries, when it differs from broker.host (e.g. dialled by IP)",
    )

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(
                f"file {v} does not exist (relative paths start at the working directory "
                f"{Path.cwd()}): give the path of a PEM file"
            )
        return v

    @model_validator(mode="after")
    def _usable(self) -> BrokerTls:
        # The same check the link makes at start: unreadable PEM, a key that is not the
        # certificate's, cert_file without key_file. drivers.tls.TlsOptions(**model_dump()).
        from drivers.tls import TlsOptions, client_context

        client_context(TlsOptions(**self.model_dump()))
        return self


class Broker(Model):
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535, description="default 1883, or 8883 with tls")
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = None  # default: hallgate-{site}
    username: str | None = None
    password_env: str | None = None
    keepalive_s: int = Field(30, ge=5)
    # How many QoS 1 messages the broker may have in flight to us before we acknowledge them
    # (MQTT 5 Receive Maximum); acknowledgements wait for the outbox commit.
    receive_maximum: int = Field(2000, ge=1, le=65535)
    tls: BrokerTls | None = None

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        # The conventional MQTT over TLS port when TLS is on and no port is given.
        if isinstance(data, dict) and data.get("port") is None and data.get("tls") is not None:
            return {**data, "port": 8883}
        return data

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


class Ingest(Model):
    """Ingest across cores: with more than one worker, each is a process of its own and a member
    of one MQTT shared subscription (`$share/hallgate-{site}/...`), with its own client id, session
    and outbox; the gateway keeps the API, the polls and the one view of the hall."""

    workers: int = Field(
        1,
        ge=1,
        le=16,
        description="processes taking the hall's MQTT messages; 1: the gateway itself (about one core at most)",
    )


class Store(Model):
    path: Path = Path("var/outbox.sqlite")
    # The state database (health history, zone state, quarantine, ...); default: state.sqlite
    # beside the outbox.
    state_path: Path | None = None
    max_bytes: int = 256 * 1024**2
    batch_size: int = Field(5000, ge=1)
    flush_interval_s: float = Field(1.0, gt=0)

    @property
    def state_file(self) -> Path:
        return self.state_path or self.path.with_name("state.sqlite")

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> int:
        return parse_size(v)


class Influx(Model):
    api: Literal["v1", "v2", "none"] = "none"
    url: str = "http://127.0.0.1:8086"
    # v1 (InfluxDB 1.x /write)
    database: str = "hallgate"
    retention_policy: str | None = None
    username: str | None = None
    password_env: str | None = None
    # v2 (InfluxDB 2.x/3.x /api/v2/write)
    org: str | None = None
    bucket: str | None = None
    token_env: str | None = None

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> Influx:
        if self.api == "v2" and not (self.org and self.bucket and self.token_env):
            raise ValueError("api v2 needs org, bucket and token_env (the variable holding the token)")
        return self


Severity = Literal["info", "warning", "critical"]


class QuietHours(Model):
    """Webhook deliveries of alerts below `min_severity` are held back between start and end."""

    start: time
    end: time
    min_severity: Severity = "critical"


class Webhook(Model):
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None  # sent as `Authorization: Bearer <token>`
    timeout_s: float = Field(5.0, gt=0)


class Health(Model):
    clock_drift_limit_s: float = Field(
        120, gt=0, description="a device whose clock is off by more than this is degraded (its drift shown)"
    )


class Alerts(Model):
    severity: dict[str, Severity] = Field({}, description="rule -> severity, overriding the defaults")
    clear_after_s: float = Field(30.0, ge=0, description="a condition clear this long resolves its alert")
    quiet_hours: QuietHours | None = None
    webhook: Webhook | None = None


class Commands(Model):
    """The one way down (gateway/commands/): timeouts and how long records are kept."""

    timeout_s: float | None = Field(
        None, gt=0, le=60, description="wait this long for a device's confirmation; default: the profile's"
    )
    audit_keep_days: float = Field(365, gt=0, description="audit records older than this leave the state database")
    keys_keep_h: float = Field(24, gt=0, description="how long an Idempotency-Key's outcome is remembered")


class Lockers(Model):
    """Pickup lockers: codes, expiry and the wrong-code lockout."""

    code_ttl_h: float = Field(72, gt=0, description="a pickup code expires this long after the deposit")
    lockout_failures: int = Field(5, ge=1, description="wrong codes per locker within lockout_window_s ...")
    lockout_window_s: float = Field(900, gt=0)
    lockout_s: float = Field(900, gt=0, description="... refuse further tries (429) this long")
    qr_prefix: str = Field("HGPICKUP", pattern=r"^[A-Z0-9]{1,16}$", description="first field of the QR payload")
    notify: Webhook | None = Field(
        None, description="a webhook (e.g. the hall's SMS gateway) that gets each code for its applicant, and reminders"
    )
    remind_before_h: float = Field(24, gt=0, description="remind the applicant this long before the code expires")


class MqttLink(Model):
    topic: str | None = None  # the device's topic base; default hall/{site}/{profile topic kind}/{id}
    # The broker user it logs in as (`hallgate broker-config`); default: its id. Halls sharing a
    # broker need distinct users, e.g. {site}-{id}.
    username: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("topic")
    @classmethod
    def _plain_topic(cls, topic: str | None) -> str | None:
        # The profile's own template refuses these; an override here must too. A wildcard base
        # subscribed to other devices' messages as this device's (and published commands to a
        # topic no broker accepts); `$` topics are the broker's own.
        if topic is None:
            return None
        if not topic.strip("/"):
            raise ValueError("an empty topic: give the device's topic base, e.g. hall/site/rating/rp-w01")
        if any(c in topic for c in "#+\x00"):
            raise ValueError(f"{topic!r}: MQTT wildcards (+, #) and NUL are not allowed in a device's topic")
        if topic.startswith("$"):
            raise ValueError(f"{topic!r}: topics starting with $ belong to the broker")
        return topic


class ModbusLink(Model):
    host: str | None = Field(None, min_length=1)
    port: int = Field(502, ge=1, le=65535)
    serial: str | None = None  # e.g. /dev/ttyUSB0 for RS-485 directly
    baudrate: int = Field(9600, gt=0)
    unit: int = Field(1, ge=0, le=247)
    framer: Literal["socket", "rtu"] = "socket"  # rtu over TCP: an RS-485 serial server
    timeout_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _one_line(self) -> ModbusLink:
        if (self.host is None) == (self.serial is None):
            raise ValueError("give either host (Modbus TCP or RTU over TCP) or serial (RS-485), not both")
        return self

    @property
    def bus(self) -> str:
        """One physical line: requests on it are serialised."""
        return self.serial or f"{self.host}:{self.port}"


class Device(Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: str
    profile: str
    # Kind parameters (gateway/kinds/ says which kind takes which):
    zone: str | None = None  # counters: the zone IN leads into; other devices: where they stand
    from_zone: str | None = None  # counters between two zones: where IN comes from
    window: str | None = None  # rating pads
    slots: int | None = Field(None, ge=1, le=48)  # lockboxes
    doors: int | None = Field(None, ge=1, le=192)  # pickup lockers
    poll_interval_s: float = Field(1.0, gt=0)
    mqtt: MqttLink | None = None
    modbus: ModbusLink | None = None
    sim: dict[str, Any] = Field({}, description="options for the simulators only; the gateway ignores them")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"{v!r} is not allowed here: use {', '.join(repr(k) for k in KINDS)}")
        return v

    @model_validator(mode="after")
    def _kind_params(self) -> Device:
        kind = KINDS[self.kind]
        for name in KIND_PARAMS:
            if getattr(self, name) is not None and name not in kind.params:
                raise ValueError(
                    f"{name}: a {self.kind} takes no {name}; remove it "
                    f"({self.kind} takes: {', '.join(sorted(kind.params)) or 'none'})"
                )
        for name in sorted(kind.required_params):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: a {self.kind} needs {name}: add it")
        return self


class HallConfig(Model):
    site: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = ""
    timezone: str = "Asia/Shanghai"
    working_hours: WorkingHours = WorkingHours()
    zones: list[Zone] = []
    occupancy: OccupancySettings = OccupancySettings()
    api: Api = Api()
    broker: Broker = Broker()
    ingest: Ingest = Ingest()
    store: Store = Store()
    influx: Influx = Influx()
    health: Health = Health()
    alerts: Alerts = Alerts()
    posts: list[Post] = []
    ratings: Ratings = Ratings()
    attendance: Attendance = Attendance()
    commands: Commands = Commands()
    lockers: Lockers = Lockers()
    phones: Phones = Phones()
    profiles_dirs: list[Path] = []
    devices: list[Device] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as Asia/Shanghai") from None
        return v

    @field_validator("posts")
    @classmethod
    def _one_post_per_window(cls, v: list[Post]) -> list[Post]:
        windows = [p.window for p in v]
        twice = sorted({w for w in windows if windows.count(w) > 1})
        if twice:
            raise ValueError(f"window {', '.join(twice)} has more than one post: give each window one entry")
        return v

    @model_validator(mode="after")
    def _resets_when_closed(self) -> HallConfig:
        wh = self.working_hours
        # Only a time someone wrote is checked: the default suits the usual hall, and a hall open
        # around the clock resets when its traffic is lowest.
        written = (
            [("occupancy.reset_at", self.occupancy.reset_at)] if "reset_at" in self.occupancy.model_fields_set else []
        )
        written += [
            (f"zones[{i}] (id {z.id}).reset_at", z.reset_at)
            for i, z in enumerate(self.zones)
            if "reset_at" in z.model_fields_set
        ]
        for where, at in written:
            if isinstance(at, time) and wh.days and wh.start <= at < wh.end:
                raise ValueError(
                    f"{where}: {at:%H:%M} is within working hours {wh.start:%H:%M}-{wh.end:%H:%M}: "
                    "reset when the hall is closed"
                )
        return self

    def zone_reset_at(self, zone: Zone) -> time | None:
        if zone.reset_at == "never":
            return None
        return zone.reset_at if isinstance(zone.reset_at, time) else self.occupancy.reset_at

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hallgate-{self.site}"


class ConfigError(Exception):
    """Every problem of one configuration file, each as (field path, message, fix).

    `partial`: when the file did not validate, the parts that did (zones, and devices with their
    index in the file), so later checks (profiles, references) can still report in the same pass.
    """

    def __init__(
        self,
        file: str,
        problems: list[tuple[str, str]],
        partial: HallConfig | None = None,
        device_index: list[int] | None = None,
    ) -> None:
        self.file = file
        self.problems = problems
        self.partial = partial
        self.device_index = device_index
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.file}: {len(self.problems)} error(s)"]
        lines += [f"  {self.file}: {path}: {msg}" for path, msg in self.problems]
        return "\n".join(lines)


def _problem(err: Mapping[str, Any], raw: Any) -> tuple[str, str]:
    path, hint = _path(err["loc"], raw), _hint(err)
    # A device's kind check names the field first ("zone: a lockbox takes no zone"): put it in the path.
    head, sep, rest = hint.partition(": ")
    if sep and head in KIND_PARAMS and err["loc"][:1] == ("devices",) and len(err["loc"]) == 2:
        return f"{path}.{head}", rest
    return path, hint


def _partial(raw: dict[str, Any], profiles_dirs: list[Path]) -> tuple[HallConfig, list[int]]:
    """The parts of an invalid file that are valid on their own: zones and devices."""

    def valid(model: type[BaseModel], items: Any) -> list[tuple[int, Any]]:
        out = []
        for i, item in enumerate(items if isinstance(items, list) else []):
            with contextlib.suppress(ValidationError):
                out.append((i, model.model_validate(item)))
        return out

    devices = valid(Device, raw.get("devices"))
    cfg = HallConfig.model_construct(
        site=str(raw.get("site")),
        zones=[z for _, z in valid(Zone, raw.get("zones"))],
        devices=[d for _, d in devices],
        profiles_dirs=profiles_dirs,
    )
    return cfg, [i for i, _ in devices]


def reference_problems(cfg: HallConfig, index: list[int] | None = None) -> list[tuple[str, str]]:
    """Duplicate device and zone ids and zones that do not exist, every one of them."""
    problems = []
    seen: set[str] = set()
    zones = {z.id for z in cfg.zones}
    # Two zones of one id would silently share (and overwrite) one zone's figures and capacity.
    for n, z in enumerate(cfg.zones):
        if z.id in seen:
            problems.append((f"zones[{n}] (id {z.id}).id", f"zone id {z.id!r} is used twice: zone ids must be unique"))
        seen.add(z.id)
    seen = set()
    for n, d in enumerate(cfg.devices):
        where = f"devices[{index[n] if index else n}] (id {d.id})"
        if d.id in seen:
            problems.append((f"{where}.id", f"device id {d.id!r} is used twice: device ids must be unique"))
        seen.add(d.id)
        for name in ("zone", "from_zone"):
            ref = getattr(d, name)
            if ref is not None and ref not in zones:
                problems.append(
                    (
                        f"{where}.{name}",
                        f"{name} {ref!r} is not one of the zones {sorted(zones)}: "
                        "add the zone under zones or fix the name",
                    )
                )
    api = getattr(cfg, "api", None)
    kinds = {d.id: d.kind for d in cfg.devices}
    for i, t in enumerate(api.tokens if api is not None else ()):
        if t.locker is not None and kinds.get(t.locker) != "pickup_locker":
            problems.append(
                (
                    f"api.tokens[{i}].locker",
                    f"{t.locker!r} is not a pickup_locker of this hall: name one of "
                    f"{sorted(k for k, v in kinds.items() if v == 'pickup_locker')}",
                )
            )
    problems += _phone_problems(cfg)
    return problems


def _phone_problems(cfg: HallConfig) -> list[tuple[str, str]]:
    """The staff-to-slot map names lockboxes of this hall and slots they have, each once."""
    phones = getattr(cfg, "phones", None)
    if phones is None:
        return []
    problems = []
    lockboxes = {d.id: d for d in cfg.devices if d.kind == "lockbox"}
    owners: dict[tuple[str, int], str] = {}
    places: dict[str, str] = {}
    for i, m in enumerate(phones.lockboxes):
        where = f"phones.lockboxes[{i}]"
        box = lockboxes.get(m.device)
        if box is None:
            problems.append(
                (f"{where}.device", f"{m.device!r} is not a lockbox of this hall: name one of {sorted(lockboxes)}")
            )
            continue
        for staff, slot in m.slots.items():
            here = f"{where}.slots.{staff}"
            if not 1 <= slot <= (box.slots or 48):
                problems.append((here, f"slot {slot} is out of range: {m.device} has slots 1-{box.slots or 48}"))
                continue
            other = owners.setdefault((m.device, slot), staff)
            if other != staff:
                problems.append((here, f"{m.device} slot {slot} is already {other}'s: give each person their own slot"))
            if staff in places:
                problems.append((here, f"{staff} already has a slot ({places[staff]}): give each person one slot"))
            places.setdefault(staff, f"{m.device} slot {slot}")
    return problems


# What the patterns of this file's fields allow, in words (pydantic only quotes the pattern).
PATTERN_WORDS = {
    r"^[a-z0-9_-]+$": "lowercase letters, digits, '_' or '-' (e.g. hall-07)",
    r"^[A-Za-z0-9_.-]{1,64}$": "1-64 letters, digits, '.', '_' or '-' (e.g. rp-w01)",
    r"^https?://": "a URL that starts with http:// or https://",
    r"^[A-Z0-9]{1,16}$": "1-16 capital letters or digits",
}


def _hint(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field: remove it or check its spelling (see README, Configuration)"
    if kind == "literal_error":
        return f"{err.get('input')!r} is not allowed here: {msg.replace('Input should be', 'use')}"
    if kind == "missing":
        return "required field is missing: add it"
    if kind == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        return f"{err.get('input')!r} is not allowed here: use {PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    if kind == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
        return "is empty: give a value (or leave the field out for its default)"
    return msg.removeprefix("Value error, ")


def _path(loc: tuple[Any, ...], raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label = f"[{item}] (id {node['id']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _set_path(raw: dict[str, Any], keys: list[str], value: Any) -> tuple[str | int, ...]:
    """Set the value; the path it went to, as the file spells it (for errors to name the variable)."""
    node: Any = raw
    path: list[str | int] = []
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            idx = int(key)
            path.append(idx)
            if last:
                node[idx] = value
            else:
                node = node[idx]
            continue
        match = next((k for k in node if k.lower() == key), key)
        path.append(match)
        if last:
            node[match] = value
        else:
            node = node.setdefault(match, {})
    return tuple(path)


def _from_env(
    loc: tuple[Any, ...], overrides: Mapping[tuple[str | int, ...], str]
) -> tuple[str, tuple[str | int, ...]] | None:
    """The variable behind an error: one that set this field, something inside it, or its container
    (`HALLGATE_DEVICES__5__ID` on a file without devices makes `devices` a mapping)."""
    for path, name in overrides.items():
        n = min(len(path), len(loc))
        if tuple(loc[:n]) == path[:n]:
            return name, path
    return None


def apply_env(
    raw: dict[str, Any], environ: Mapping[str, str], overrides: dict[tuple[str | int, ...], str] | None = None
) -> list[tuple[str, str]]:
    """`HALLGATE_BROKER__PORT=1884` sets broker.port; `HALLGATE_DEVICES__0__MODBUS__PORT` indexes lists.

    Variables named by the file as secrets (a token's `env`) are not overrides and are skipped.
    """
    problems: list[tuple[str, str]] = []
    secret_names = _secret_names(raw)
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in secret_names or name.startswith(ENV_PREFIX + "TOKEN_"):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        try:
            value = yaml.safe_load(text) if text else text
        except yaml.YAMLError as e:
            problems.append((f"${name}", f"not valid YAML: {str(e).splitlines()[0]}: quote or fix the value"))
            continue
        try:
            path = _set_path(raw, keys, value)
            if overrides is not None:
                overrides[path] = name
        except (IndexError, ValueError, TypeError, AttributeError):
            problems.append((f"${name}", "does not name a setting of this file: check the path"))
    return problems


def _secret_names(raw: dict[str, Any]) -> set[str]:
    def section(name: str) -> dict[str, Any]:
        value = raw.get(name)
        return value if isinstance(value, dict) else {}

    tokens = section("api").get("tokens")
    names = {t.get("env") for t in tokens if isinstance(t, dict)} if isinstance(tokens, list) else set()
    names |= {section("broker").get("password_env"), section("influx").get("password_env")}
    names.add(section("influx").get("token_env"))
    webhook = section("alerts").get("webhook")
    if isinstance(webhook, dict):
        names.add(webhook.get("token_env"))
    notify = section("lockers").get("notify")
    if isinstance(notify, dict):
        names.add(notify.get("token_env"))
    return {n for n in names if isinstance(n, str)}


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, require_secrets: bool = True
) -> HallConfig:
    """Read, override from the environment and validate; raise ConfigError listing every problem.

    With `require_secrets`, every secret the file names must be set in the environment.
    """
    file = str(path)
    environ = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, [("(file)", "no such file: check the path")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError(file, [("(file)", f"not UTF-8 text (byte {e.start}): save it as UTF-8")]) from None
    except OSError as e:  # a directory, no permission
        raise ConfigError(file, [("(file)", f"cannot be read: {e.strerror}")]) from None
    except yaml.YAMLError as e:
        raise ConfigError(file, [("(file)", f"not valid YAML: {e}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError(file, [("(top level)", "a hall configuration is a mapping with site, devices, ...")])
    overrides: dict[tuple[str | int, ...], str] = {}
    problems = apply_env(raw, environ, overrides)
    base = Path(path).resolve().parent
    try:
        cfg = HallConfig.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            where, hint = _problem(err, raw)
            # A field the file does not hold came from the environment: say which variable set it.
            source = _from_env(tuple(err["loc"]), overrides)
            if source is None:
                problems.append((where, hint))
                continue
            name, target = source
            if len(err["loc"]) < len(target):  # what holds the target is not what the path expects
                hint = "does not name a setting of this file: check the path"
            problems.append((f"{where} (from ${name})", hint))
        partial, index = _partial(raw, [base / "profiles", DEFAULT_PROFILES_DIR])
        problems += reference_problems(partial, index)
        raise ConfigError(file, problems, partial, index) from None
    dirs = [d if d.is_absolute() else base / d for d in cfg.profiles_dirs]
    cfg = cfg.model_copy(update={"profiles_dirs": [*dirs, base / "profiles", DEFAULT_PROFILES_DIR]})
    problems += reference_problems(cfg)
    if require_secrets:
        problems += missing_secrets(cfg, environ)
    if problems:
        raise ConfigError(file, problems, cfg)
    return cfg


def missing_secrets(cfg: HallConfig, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    problems = []
    # A token is looked up by its value: one value under two entries (the same variable twice, or
    # two variables holding the same token) would silently get the last entry's role and locker.
    first: dict[str, int] = {}
    for i, t in enumerate(cfg.api.tokens):
        value = environ.get(t.env)
        if value and value in first:
            j = first[value]
            same = (
                "names the same variable"
                if cfg.api.tokens[j].env == t.env
                else f"holds the same token as {cfg.api.tokens[j].env}"
            )
            problems.append(
                (
                    f"api.tokens[{i}].env",
                    f"{t.env} {same} (api.tokens[{j}]): give every role and holder a token of its own",
                )
            )
        elif value:
            first[value] = i
        if not value:
            problems.append((f"api.tokens[{i}].env", f"environment variable {t.env} is not set: export it"))
        elif len(value) < MIN_TOKEN_CHARS:
            problems.append(
                (
                    f"api.tokens[{i}].env",
                    f"the token in {t.env} has {len(value)} characters: use at least "
                    f"{MIN_TOKEN_CHARS} (python3 -c 'import secrets; print(secrets.token_urlsafe(24))')",
                )
            )
    for section, field in (("broker", "password_env"), ("influx", "password_env"), ("influx", "token_env")):
        name = getattr(getattr(cfg, section), field)
        if name and not environ.get(name):
            problems.append((f"{section}.{field}", f"environment variable {name} is not set: export it"))
    hook = cfg.alerts.webhook
    if hook and hook.token_env and not environ.get(hook.token_env):
        problems.append(("alerts.webhook.token_env", f"environment variable {hook.token_env} is not set: export it"))
    notify = cfg.lockers.notify
    if notify and notify.token_env and not environ.get(notify.token_env):
        problems.append(("lockers.notify.token_env", f"environment variable {notify.token_env} is not set: export it"))
    return problems


def secret(name: str | None) -> str | None:
    """The value of a secret the configuration names (checked present by load_config)."""
    return None if name is None else os.environ.get(name)
