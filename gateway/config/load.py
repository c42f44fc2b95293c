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

from gateway.config.base import ENV_PREFIX
from gateway.config.devices import Device
from gateway.config.errors import ConfigError, problem
from gateway.config.hall import HallConfig, Zone, sections
from gateway.config.lines import line_of, lines_of, tree
from gateway.config.references import reference_problems
from gateway.config.secrets import missing_secrets, secret_names_in
from gateway.config.staff import staff_problems
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
    secret_names = secret_names_in(raw)
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in secret_names or name.startswith(ENV_PREFIX + "TOKEN_"):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        try:
            value = yaml.safe_load(text) if text else text
        except yaml.YAMLError as e:
            said = str(e).splitlines()[0]
            problems.append((f"${name}", f"不是有效的 YAML：{said}：请加引号或改正取值 (yaml_invalid)"))
            continue
        try:
            path = _set_path(raw, keys, value)
            if overrides is not None:
                overrides[path] = name
        except (IndexError, ValueError, TypeError, AttributeError):
            problems.append((f"${name}", "不对应本文件的任何设置：请检查变量名中的路径 (unknown_setting)"))
    return problems


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, require_secrets: bool = True
) -> HallConfig:
    """Read, override from the environment and validate; raise ConfigError listing every problem.

    With `require_secrets`, every secret the file names must be set in the environment.
    """
    file = str(path)
    environ = os.environ if environ is None else environ
    late = [s.key for s in sections() if s.key not in HallConfig.model_fields]
    if late:  # a programming error, not the file's: say so rather than refuse the section as unknown
        raise RuntimeError(f"kind settings {late} registered after gateway.config.hall was imported: register first")
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise ConfigError(file, [("(file)", "文件不存在：请检查路径 (no_such_file)")]) from None
    except UnicodeDecodeError as e:
        said = f"不是 UTF-8 文本（第 {e.start} 字节）：请另存为 UTF-8 (not_utf8)"
        raise ConfigError(file, [("(file)", said)]) from None
    except OSError as e:  # a directory, no permission
        raise ConfigError(file, [("(file)", f"无法读取：{e.strerror} (unreadable)")]) from None
    except yaml.YAMLError as e:
        raise ConfigError(file, [("(file)", f"不是有效的 YAML (yaml_invalid)：{e}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError(file, [("(top level)", "大厅配置应为映射，含 site、devices 等 (not_a_mapping)")])
    if "sites" in raw and "devices" not in raw:  # district.yaml given where a hall file is read
        said = "这是区级配置 (district.yaml)，不是大厅配置：请用 hallgate district -c 该文件 启动 (district_file)"
        raise ConfigError(file, [("(top level)", said)])
    overrides: dict[tuple[str | int, ...], str] = {}
    problems = apply_env(raw, environ, overrides)
    base = Path(path).resolve().parent
    try:
        cfg = HallConfig.model_validate(raw)
    except ValidationError as e:
        nodes, lines = tree(text), {}
        for err in e.errors():
            where, hint = problem(err, raw)
            # A field the file does not hold came from the environment: say which variable set it.
            source = _from_env(tuple(err["loc"]), overrides)
            if source is None:
                problems.append((where, hint))
                if (line := line_of(nodes, err["loc"])) is not None:
                    lines[where] = line
                continue
            name, target = source
            if len(err["loc"]) < len(target):  # what holds the target is not what the path expects
                hint = "不对应本文件的任何设置：请检查变量名中的路径 (unknown_setting)"
            problems.append((f"{where} (from ${name})", hint))
        partial, index = _partial(raw, [base / "profiles", DEFAULT_PROFILES_DIR])
        problems += reference_problems(partial, index)
        lines = lines_of(text, [where for where, _ in problems], lines)
        raise ConfigError(file, problems, partial, index, lines) from None
    dirs = [d if d.is_absolute() else base / d for d in cfg.profiles_dirs]
    cfg = cfg.model_copy(update={"profiles_dirs": [*dirs, base / "profiles", DEFAULT_PROFILES_DIR]})
    problems += reference_problems(cfg)
    lines: dict[str, int] = {}
    nodes = tree(text)
    for where, hint, loc in staff_problems(cfg):  # a registry's problems name their line
        problems.append((where, hint))
        if (line := line_of(nodes, loc)) is not None:
            lines[where] = line
    if require_secrets:
        problems += missing_secrets(cfg, environ)
    if problems:
        raise ConfigError(file, problems, cfg, lines=lines_of(text, [where for where, _ in problems], lines))
    return cfg
