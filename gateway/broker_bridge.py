"""The site Mosquitto's bridge to the district broker (`district.broker`), and what the district
broker's ACL grants the site's bridge user: `hallgate broker-config`.

Only `out` topics: the bridge carries the site's chosen topics up and nothing down, so a command
published at the district never reaches a device (and the district ACL lets the site's user
write only its own topics up, never read). `cleansession false` keeps the bridge's session on the
site broker while the link is down: what it publishes meanwhile waits there, up to
`max_queued_messages`, and goes up once the district broker answers again.

The password is written only into the file (`--out`, mode 0600); printed, it is a placeholder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.broker_config import BrokerConfigError
from gateway.config.district_broker import DistrictBroker
from gateway.config.hall import HallConfig

BRIDGE_NAME = "hallgate-bridge.conf"  # installed in /etc/mosquitto/conf.d/, mode 0640 (the password)

UP_TOPICS = {
    "alerts": "hall/{site}/gateway/alerts",  # each alert change, and the retained open ones
    "status": "hall/{site}/gateway/status",  # the gateway's own (retained, its will)
    "devices": "hall/{site}/+/+/status",  # each MQTT device's (retained, its will)
    "workorders": "hall/{site}/gateway/workorders",  # each 差评 work order change, the retained open counts
    "violations": "hall/{site}/gateway/violations",  # each violation change, the retained counts
}


def state_topic(site: str) -> str:
    """The bridge's own state, `1` or `0` (retained; its will at the district)."""
    return f"hall/{site}/bridge/state"


@dataclass(frozen=True, slots=True)
class Bridge:
    site: str
    cfg: DistrictBroker

    @property
    def username(self) -> str:
        return self.cfg.username or self.site

    @property
    def client_id(self) -> str:
        return self.cfg.client_id or f"hallgate-bridge-{self.site}"

    def up(self) -> list[str]:
        return [UP_TOPICS.get(u, u).format(site=self.site) for u in self.cfg.up]

    def problems(self) -> list[tuple[str, str]]:
        tree = f"hall/{self.site}/"
        return [
            (f"{self.site}: district.broker.up[{i}]", f"{t!r} 不在 {tree} 之下：站点只向上转发自己的主题")
            for i, t in enumerate(self.up())
            if not t.startswith(tree)
        ]

    def password_source(self) -> str:
        c = self.cfg
        return f"${c.password_env}" if c.password_env else f"{c.password_file}"

    def password(self) -> str:
        """The password from its variable or file; BrokerConfigError when missing or unusable."""
        c, where = self.cfg, f"{self.site}: district.broker."
        if c.password_env:
            value = os.environ.get(c.password_env)
            if not value:
                said = f"{c.password_env} 未设置：请 export 该密码 (secret_missing)"
                raise BrokerConfigError([(f"{where}password_env", said)])
        else:
            assert c.password_file is not None
            try:
                value = c.password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as e:
                raise BrokerConfigError(
                    [(f"{where}password_file", f"无法读取 {c.password_file}：{e.strerror}")]
                ) from None
        if not value or any(ch in value for ch in "\r\n") or value != value.strip():
            what = "为空、有多行或首尾有空格：Mosquitto 读不了这样的密码"
            raise BrokerConfigError([(f"{where}password", what)])
        return value


def bridges(halls: Sequence[HallConfig]) -> list[Bridge]:
    return [Bridge(h.site, h.district.broker) for h in halls if h.district.broker is not None]


def render_bridges(found: Sequence[Bridge], passwords: dict[str, str] | None) -> str:
    """The bridge file; `passwords` (site -> password) None prints placeholders instead."""
    lines = [
        f"# /etc/mosquitto/conf.d/{BRIDGE_NAME}: made by `hallgate broker-config`. The bridge of each",
        "# hall to the district broker: chosen topics go up (`out`), nothing comes down. It holds the",
        "# site's password: install it 0640 root:mosquitto.",
    ]
    for b in found:
        c = b.cfg
        secret = passwords[b.site] if passwords is not None else f"<password from {b.password_source()}>"
        lines += [
            "",
            f"connection district-{b.site}",
            f"address {c.host}:{c.port}",
            "bridge_protocol_version mqttv50",
            "# Keep the bridge's session here while the link is down: what is published meanwhile waits",
            "# (max_queued_messages in hallgate.conf) and goes up once the district answers.",
            "cleansession false",
            "local_cleansession false",
            "try_private false",
            "start_type automatic",
            "restart_timeout 5 60",
            f"keepalive_interval {c.keepalive_s}",
            f"remote_clientid {b.client_id}",
            f"local_clientid local.{b.client_id}",
            f"remote_username {b.username}",
            f"remote_password {secret}",
            "# The bridge's state (1 up, 0 down: its will) at the district, so it sees a site drop.",
            "notifications true",
            f"notification_topic {state_topic(b.site)}",
        ]
        if c.tls is not None:
            lines += [f"bridge_cafile {c.tls.ca_file}", "bridge_insecure false"]
            if c.tls.cert_file is not None:
                lines += [f"bridge_certfile {c.tls.cert_file}", f"bridge_keyfile {c.tls.key_file}"]
        lines += [f"topic {t} out 1" for t in b.up()]
    return "\n".join(lines) + "\n"


def render_district_acl(b: Bridge) -> str:
    """The district broker's ACL block for this site's bridge user: write its own topics, read none."""
    lines = [
        f"# The district broker's ACL block for {b.site}'s bridge (made by `hallgate broker-config`):",
        "# it may write its own topics up and read nothing, so nothing comes down to the site.",
        f"user {b.username}",
        *(f"topic write {t}" for t in [*b.up(), state_topic(b.site)]),
    ]
    return "\n".join(lines) + "\n"


def bridge_files(halls: Sequence[HallConfig], secrets: bool) -> dict[str, str]:
    """hallgate-bridge.conf and each site's district ACL block (`district-{site}.acl`); none without
    district.broker. `secrets`: the real passwords (for files), else placeholders (for printing)."""
    found = bridges(halls)
    if not found:
        return {}
    problems = [p for b in found for p in b.problems()]
    if problems:
        raise BrokerConfigError(problems)
    passwords = {b.site: b.password() for b in found} if secrets else None
    return {BRIDGE_NAME: render_bridges(found, passwords)} | {
        f"district-{b.site}.acl": render_district_acl(b) for b in found
    }
