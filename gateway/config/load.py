"""Reading a hall configuration: the YAML file, overridden from the environment, validated, its
references checked, its secrets present. Errors name the file, the field path and what to do.
Secrets (API tokens, passwords) are never read from the file: it names the environment variable
that holds each one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gateway.config.api import MIN_TOKEN_CHARS
from gateway.config.base import ENV_PREFIX
from gateway.config.devices import Device
from gateway.config.errors import ConfigError, problem
from gateway.config.hall import HallConfig, Zone
from gateway.paths import PROFILES_DIR as DEFAULT_PROFILES_DIR


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
            where, hint = problem(err, raw)
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
