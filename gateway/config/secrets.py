"""The secrets a hall file names: each field that holds the name of an environment variable (never
the secret itself). One list, read twice: environment overrides skip those variables, and
load_config requires each one to be set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.config.api import MIN_TOKEN_CHARS
from gateway.config.discipline import robot_secrets
from gateway.config.hall import sections

# The hall-wide ones (the API tokens' `env` are checked on their own, below); the kinds add theirs.
HALL_SECRETS = (
    "broker.password_env",
    "influx.password_env",
    "influx.token_env",
    "district.password_env",
    "alerts.webhook.token_env",
    "reports.delivery.email.password_env",
    "reports.delivery.robot.dingtalk.secret_env",
    "reports.delivery.robot.wecom.url_env",
)


def secret_fields() -> list[str]:
    """Dotted paths of every field that names a secret's variable, the kinds' sections' included."""
    return [*HALL_SECRETS, *(f"{s.key}.{path}" for s in sections() for path in s.secrets)]


def secret_names_in(raw: dict[str, Any]) -> set[str]:
    """The variables a raw (not yet validated) file names as secrets."""
    tokens = raw.get("api", {}).get("tokens") if isinstance(raw.get("api"), dict) else None
    names = {t.get("env") for t in tokens if isinstance(t, dict)} if isinstance(tokens, list) else set()
    for path in secret_fields():
        node: Any = raw
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        names.add(node)
    # The departments' robots (discipline.departments.<科室>.dingtalk.secret_env | .wecom.url_env).
    depts = (raw.get("discipline") or {}).get("departments") if isinstance(raw.get("discipline"), dict) else None
    for robot in depts.values() if isinstance(depts, dict) else ():
        for side, key in (("dingtalk", "secret_env"), ("wecom", "url_env")):
            node = robot.get(side) if isinstance(robot, dict) else None
            names.add(node.get(key) if isinstance(node, dict) else None)
    return {n for n in names if isinstance(n, str)}


def missing_secrets(cfg: Any, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    problems = []
    # A token is looked up by its value: one value under two entries (the same variable twice, or
    # two variables holding the same token) would silently get the last entry's role and locker.
    first: dict[str, int] = {}
    for i, t in enumerate(cfg.api.tokens):
        value = environ.get(t.env)
        if value and value in first:
            j = first[value]
            same = (
                "与之是同一个环境变量" if cfg.api.tokens[j].env == t.env else f"与 {cfg.api.tokens[j].env} 的令牌相同"
            )
            problems.append(
                (
                    f"api.tokens[{i}].env",
                    f"{t.env} {same}（api.tokens[{j}]）：每个角色和持有人各用自己的令牌 (token_shared)",
                )
            )
        elif value:
            first[value] = i
        if not value:
            problems.append((f"api.tokens[{i}].env", f"环境变量 {t.env} 未设置：请 export (secret_missing)"))
        elif len(value) < MIN_TOKEN_CHARS:
            problems.append(
                (
                    f"api.tokens[{i}].env",
                    f"{t.env} 中的令牌只有 {len(value)} 个字符：至少 {MIN_TOKEN_CHARS} 个"
                    "（python3 -c 'import secrets; print(secrets.token_urlsafe(24))'）(token_short)",
                )
            )
    for path in secret_fields():
        node: Any = cfg
        for key in path.split("."):
            node = getattr(node, key, None)
        if node and not environ.get(node):
            problems.append((path, f"环境变量 {node} 未设置：请 export (secret_missing)"))
    for path, name in robot_secrets(cfg.discipline.departments):
        if not environ.get(name):
            problems.append((path, f"环境变量 {name} 未设置：请 export (secret_missing)"))
    return problems
