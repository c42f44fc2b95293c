"""Find and validate profile files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from drivers.profiles.model import ModbusProfile, MqttProfile, Profile
from drivers.profiles.validation import hint_of

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
    kind = err["type"]
    if kind == "extra_forbidden":
        return "未知字段：请删除或检查拼写（见 README「Device profiles」）(extra_forbidden)"
    if kind == "union_tag_invalid":
        return f"未知协议 {err.get('ctx', {}).get('tag')!r}：请填 {' 或 '.join(PROTOCOLS)} ({kind})"
    if kind == "union_tag_not_found":
        return f"缺少必填字段：请加上 protocol: {' 或 '.join(PROTOCOLS)} ({kind})"
    if not err["loc"] and kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"设备模板是映射，含 name、kind、protocol、vendor 等（见 README「Device profiles」）({kind})"
    return hint_of(err)


def load_profile(path: Path) -> MqttProfile | ModbusProfile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _adapter.validate_python(raw)
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}：不是有效的 YAML (yaml_invalid)：{e}") from None
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path}：不是 UTF-8 文本（第 {e.start} 字节）：请另存为 UTF-8 (not_utf8)") from None
    except OSError as e:
        raise ProfileError(f"{path}：无法读取 (unreadable)：{e.strerror}") from None
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
                raise ProfileError(
                    f"{path}：其 name 为 {profile.name!r}，应与文件名一致为 {name!r} (profile_name_mismatch)"
                )
            return profile
    where = "、".join(dict.fromkeys(searched))
    raise ProfileError(f"在 {where} 中找不到设备模板 {name!r}：请在其中加入 {name}.yaml (unknown_profile)")
