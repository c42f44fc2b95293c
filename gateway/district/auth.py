"""The district's per-site credentials, from district.yaml (`hallgate district-auth`).

The district store: vmauth in front of VictoriaMetrics. Each site's user may only write (the
InfluxDB line protocol at /write, VictoriaMetrics' JSON at /api/v1/import), and vmauth sends its
writes on with `extra_label=site=<id>&extra_label=level=<level>`: VictoriaMetrics sets those labels
on every point, over whatever the site sent (a site sending `site=b` lands as its own id;
tests/test_district_auth.py checks it against the real vmauth and victoria-metrics). The view's
user (`store.username`) may only read. In production (VictoriaMetrics cluster) the same file goes
to the cluster's vmauth with `store.backend` pointing at vminsert/vmselect.

The district broker: a Mosquitto password file (PBKDF2-SHA512 hashes, the format mosquitto_passwd
writes) and an ACL where each site's user may write only under `hall/{id}/` and read nothing,
and the view's user (`broker.username`) may read `hall/#` and write nothing.

Passwords come from each site's `password_env`; they are written only into the files (mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping

import yaml

from gateway.district.config import DistrictConfig

VMAUTH_NAME = "vmauth.yml"
PASSWD_NAME = "district-broker.passwd"
ACL_NAME = "district-broker.acl"

# What a site may call: writes only. Regular expressions, matched against the whole path.
WRITE_PATHS = ["/write", "/api/v1/import"]
# What the view and Grafana may call: reads only.
READ_PATHS = [
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/label/[^/]+/values",
    "/api/v1/export",
    "/api/v1/status/buildinfo",
]
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's own default for $7$


class DistrictAuthError(Exception):
    """district.yaml lacks what the credentials need: every problem, as (where, what to do)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))
        self.problems = problems


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A password file entry's hash as mosquitto_passwd (2.x) writes it: $7$iterations$salt$hash."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 64)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def _secret(env: str | None, where: str, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> str:
    if not env:
        problems.append((where, "not set: name the variable that holds the password"))
        return ""
    value = environ.get(env, "")
    if not value or value != value.strip() or any(ch in value for ch in "\r\n:"):
        problems.append((where, f"{env} is unset, empty, or holds spaces at an end, a line break or ':'"))
    return value


def passwords(cfg: DistrictConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every user's password by user: the sites' (by id) and the view's. Raises DistrictAuthError."""
    env = os.environ if environ is None else environ
    problems: list[tuple[str, str]] = []
    found = {s.id: _secret(s.password_env, f"sites[{i}].password_env", env, problems) for i, s in enumerate(cfg.sites)}
    if not cfg.store.backend:
        problems.append(
            ("store.backend", "not set: the VictoriaMetrics vmauth forwards to, e.g. http://127.0.0.1:8428")
        )
    if not cfg.store.username:
        problems.append(("store.username", "not set: the view's read-only user at the district store"))
    elif cfg.store.username in found:
        problems.append(("store.username", f"{cfg.store.username} is also a site's id: give the view its own user"))
    else:
        found[cfg.store.username] = _secret(cfg.store.password_env, "store.password_env", env, problems)
    if cfg.broker is not None and cfg.broker.username and cfg.broker.username != cfg.store.username:
        if cfg.broker.username in found:
            problems.append(("broker.username", f"{cfg.broker.username} is a site's id: give the view its own user"))
        else:
            found[cfg.broker.username] = _secret(cfg.broker.password_env, "broker.password_env", env, problems)
    if problems:
        raise DistrictAuthError(problems)
    return found


def render_vmauth(cfg: DistrictConfig, pw: Mapping[str, str]) -> str:
    backend = (cfg.store.backend or "").rstrip("/")
    users: list[dict[str, object]] = [
        {
            "username": s.id,
            "password": pw[s.id],
            "url_map": [
                {
                    "src_paths": WRITE_PATHS,
                    # Set on every point over what the site sent: its label is its login's.
                    "url_prefix": f"{backend}?extra_label=site={s.id}&extra_label=level={s.level}",
                }
            ],
        }
        for s in cfg.sites
    ]
    view = cfg.store.username or ""
    users.append(
        {"username": view, "password": pw[view], "url_map": [{"src_paths": READ_PATHS, "url_prefix": backend}]}
    )
    head = (
        "# vmauth -auth.config: made by `hallgate district-auth` from district.yaml. Each site may only\n"
        "# write, and every point it writes is labelled with its own site and level; the view may only\n"
        "# read. It holds the passwords: keep it 0600.\n"
    )
    return head + yaml.safe_dump({"users": users}, allow_unicode=True, sort_keys=False, width=200)


def render_passwd(cfg: DistrictConfig, pw: Mapping[str, str]) -> str:
    """The district broker's password file: the sites and the view's broker user."""
    names = [s.id for s in cfg.sites]
    if cfg.broker is not None and cfg.broker.username:
        names.append(cfg.broker.username)
    return "".join(f"{n}:{mosquitto_hash(pw[n])}\n" for n in names)


def render_acl(cfg: DistrictConfig) -> str:
    lines = [
        "# The district broker's ACL: made by `hallgate district-auth` from district.yaml. A site's",
        "# bridge may write only its own topics and read nothing (nothing comes down to a site).",
    ]
    for s in cfg.sites:
        lines += ["", f"user {s.id}", f"topic write hall/{s.id}/#"]
    if cfg.broker is not None and cfg.broker.username:
        lines += ["", "# The district's view: reads every site's topics, writes none.", f"user {cfg.broker.username}"]
        lines.append("topic read hall/#")
    return "\n".join(lines) + "\n"


def auth_files(cfg: DistrictConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """vmauth.yml, district-broker.passwd and district-broker.acl, by file name."""
    pw = passwords(cfg, environ)
    return {VMAUTH_NAME: render_vmauth(cfg, pw), PASSWD_NAME: render_passwd(cfg, pw), ACL_NAME: render_acl(cfg)}
