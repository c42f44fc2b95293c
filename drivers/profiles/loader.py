"""Find and validate profile files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from drivers.profiles.model import ModbusProfile, MqttProfile, Profile

PROTOCOLS = ("mqtt", "modbus")
_adapter: TypeAdapter[MqttProfile | ModbusProfile] = TypeAdapter(Profile)


class ProfileError(Exception):
    pass


def _where(loc: tuple[Any, ...]) -> str:
    """The field's path as written in the file: without the protocol tag pydantic puts first
    (`modbus.signals.x` is `signals.x` in the file)."""
    if loc and loc[0] in PROTOCOLS:
        loc = loc[1:]
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"


def _hint(err: Any) -> str:
    """What is wrong and what to do, as the hall file's errors say it (gateway/config/errors.py)."""
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field: remove it or check its spelling (see README, Device profiles)"
    if kind == "missing":
        return "required field is missing: add it"
    if kind in ("literal_error", "enum"):
        return f"{err.get('input')!r} is not allowed here: {msg.replace('Input should be', 'use')}"
    if kind == "union_tag_invalid":
        return f"{err.get('ctx', {}).get('tag')!r} is not known: use {' or '.join(PROTOCOLS)}"
    if kind == "union_tag_not_found":
        return f"required field is missing: add protocol: {' or '.join(PROTOCOLS)}"
    if not err["loc"] and kind in ("model_type", "dict_type", "model_attributes_type"):
        return "a profile is a mapping with name, kind, protocol, vendor, ... (see README, Device profiles)"
    return msg.removeprefix("Value error, ")


def load_profile(path: Path) -> MqttProfile | ModbusProfile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _adapter.validate_python(raw)
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path}: not UTF-8 text (byte {e.start}): save it as UTF-8") from None
    except OSError as e:
        raise ProfileError(f"{path}: cannot be read: {e.strerror}") from None
    except ValidationError as e:
        details = "; ".join(
            f"{'protocol' if err['type'].startswith('union_tag') else _where(err['loc'])}: {_hint(err)}"
            for err in e.errors()
        )
        raise ProfileError(f"{path}: {details}") from None


def find_profile(name: str, dirs: Iterable[Path]) -> MqttProfile | ModbusProfile:
    searched = []
    for d in dirs:
        path = d / f"{name}.yaml"
        searched.append(str(d))
        if path.is_file():
            profile = load_profile(path)
            if profile.name != name:
                raise ProfileError(f"{path}: its name is {profile.name!r}, expected {name!r} (the file name)")
            return profile
    raise ProfileError(f"no profile {name!r} in {', '.join(dict.fromkeys(searched))}: add {name}.yaml there")
