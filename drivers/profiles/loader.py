"""Find and validate profile files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from drivers.profiles.model import ModbusProfile, MqttProfile, Profile

_adapter: TypeAdapter[MqttProfile | ModbusProfile] = TypeAdapter(Profile)


class ProfileError(Exception):
    pass


def load_profile(path: Path) -> MqttProfile | ModbusProfile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _adapter.validate_python(raw)
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: not valid YAML: {e}") from None
    except ValidationError as e:
        details = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors())
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
