"""The site Mosquitto's configuration from hall configurations: `hallgate broker-config`.

Each client id is bound to its user (`use_username_as_clientid`): whatever client id a client
sends, the broker uses its username, so no one can take another's session (a device's will
firing, its unlocks refused) by sending its id. Each user may touch only its own topics: a
device writes its own topic tree and reads its command topics, the gateway its hall's tree, the
ingest workers read it. The ACL has one `user` block per user and no `pattern` lines: a pattern
(`hall/+/+/%u/#`) let a device write under any hall and kind of a broker serving several halls.

Pure text from the configuration: the CLI writes the files. Passwords are never written here:
the password file is made with `mosquitto_passwd` (`password_commands`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.profiles.model import MqttProfile
from gateway.config.hall import HallConfig
from gateway.devices import DeviceEntry
from gateway.ingest.forward import worker_username
from gateway.ingest.links import alerts_topic, status_topic

CONF_NAME = "hallgate.conf"  # installed in /etc/mosquitto/conf.d/
ACL_NAME = "hallgate.acl"  # installed in /etc/mosquitto/
ACL_PATH = f"/etc/mosquitto/{ACL_NAME}"
PASSWORD_PATH = "/etc/mosquitto/hallgate.passwd"


class BrokerConfigError(Exception):
    """The halls cannot share one broker as configured: every problem, as (where, what to do)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class BrokerUser:
    name: str
    about: str  # the ACL's comment above the block
    where: str  # the configuration field that names it, for errors
    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)
    readwrite: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Hall:
    cfg: HallConfig
    devices: dict[str, DeviceEntry]


def device_username(entry: DeviceEntry) -> str:
    """The broker user a device logs in as: `mqtt.username`, by default its id."""
    link = entry.config.mqtt
    return link.username if link is not None and link.username else entry.id


def device_topics(entry: DeviceEntry, site: str) -> tuple[list[str], list[str]]:
    """(what the device may write, what it may read): its own topic tree, and its command topics."""
    assert entry.decoder is not None and isinstance(entry.profile, MqttProfile)
    base = entry.config.mqtt.topic if entry.config.mqtt else None
    if entry.topic is not None and "+" not in entry.topic:
        writes = [f"{entry.topic}/#"]  # `a/#` matches `a` too: a channel named in the payload
    else:  # the channel is not the topic's last level: its exact topics
        writes = sorted(entry.decoder.topics(entry.id, site, base))
    reads = sorted(
        {entry.decoder.command_topic(entry.id, site, c.channel, base) for c in entry.profile.commands.values()}
    )
    return writes, reads


def hall_users(hall: Hall) -> list[BrokerUser]:
    """The gateway, its ingest workers and every MQTT device of one hall."""
    cfg = hall.cfg
    if not cfg.broker.username:
        raise BrokerConfigError(
            [
                (
                    f"{cfg.site}: broker.username",
                    "网关需要一个代理用户：请设置 broker.username（如 hallgate-{site}）",
                )
            ]
        )
    tree = f"hall/{cfg.site}/#"
    own = {d.id: device_topics(d, cfg.site) for d in hall.devices.values() if d.decoder is not None}
    # Topics of devices outside the hall's tree (a vendor's own): the gateway and its workers read
    # them, the gateway writes their commands.
    outside_reads = sorted({t for w, _ in own.values() for t in w if not _under(t, tree)})
    outside_writes = sorted({t for _, r in own.values() for t in r if not _under(t, tree)})
    users = [
        BrokerUser(
            cfg.broker.username,
            f"{cfg.site}: the gateway (reads its hall, writes commands, {status_topic(cfg)} and {alerts_topic(cfg)})",
            f"{cfg.site}: broker.username",
            read=outside_reads,
            write=outside_writes,
            readwrite=[tree],
        )
    ]
    for i in range(1, cfg.ingest.workers + 1) if cfg.ingest.workers > 1 else ():
        users.append(
            BrokerUser(
                worker_username(cfg, i) or "",
                f"{cfg.site}: ingest worker {i} (reads only)",
                f"{cfg.site}: ingest.workers (worker {i})",
                read=[tree, *outside_reads],
            )
        )
    for n, d in enumerate(cfg.devices):
        entry = hall.devices.get(d.id)
        if entry is None or entry.decoder is None:
            continue  # Modbus: the gateway polls it, it has no broker user
        writes, reads = own[d.id]
        users.append(
            BrokerUser(
                device_username(entry),
                f"{cfg.site}: {d.kind} {d.id} (its own topics{', reads its commands' if reads else ''})",
                f"{cfg.site}: devices[{n}] (id {d.id}).mqtt.username",
                read=reads,
                write=writes,
            )
        )
    return users


def _under(topic: str, tree: str) -> bool:
    return topic.startswith(tree.removesuffix("#"))


def all_users(halls: Sequence[Hall]) -> list[BrokerUser]:
    """Every hall's users; one site twice, or one username twice, is an error naming both."""
    problems: list[tuple[str, str]] = []
    sites: set[str] = set()
    users: list[BrokerUser] = []
    for hall in halls:
        if hall.cfg.site in sites:
            problems.append(("site", f"大厅 {hall.cfg.site} 给了两次：每个大厅只给一次"))
        sites.add(hall.cfg.site)
        try:
            users += hall_users(hall)
        except BrokerConfigError as e:
            problems += e.problems
    seen: dict[str, BrokerUser] = {}
    for u in users:
        first = seen.setdefault(u.name, u)
        if first is not u:
            problems.append(
                (
                    u.where,
                    f"代理用户 {u.name!r} 与 {first.where} 重名：代理上一个用户只对应一个客户端；"
                    "请给其中一个换名（设备：mqtt.username，如 {site}-{id}）",
                )
            )
    if problems:
        raise BrokerConfigError(problems)
    return users


def render_acl(halls: Sequence[Hall]) -> str:
    users = all_users(halls)
    sites = ", ".join(h.cfg.site for h in halls)
    lines = [
        f"# {ACL_PATH}: made by `hallgate broker-config` from the configuration of {sites};",
        "# do not edit, make it again after a device is added or removed. One block per user and no",
        "# `pattern`: each user may touch only its own topics (a device its own tree and its commands,",
        "# the gateway its hall, its ingest workers read it). Users without a block, and topics not",
        "# listed, are refused.",
    ]
    for u in users:
        lines += ["", f"# {u.about}", f"user {u.name}"]
        lines += [f"topic {access} {t}" for access in ("readwrite", "read", "write") for t in getattr(u, access)]
    return "\n".join(lines) + "\n"


def password_commands(halls: Sequence[Hall]) -> list[str]:
    """The mosquitto_passwd lines that make the password file (each asks for the password)."""
    names = [u.name for u in all_users(halls)]
    return [f"mosquitto_passwd {'-c ' if i == 0 else ''}{PASSWORD_PATH} {n}" for i, n in enumerate(names)]


def queue_limit(halls: Sequence[Hall]) -> int:
    """Messages kept per client while it is away: a bridge to the district needs a long cut's worth."""
    limits = [h.cfg.district.broker.max_queued_messages for h in halls if h.cfg.district.broker is not None]
    return max([10000, *limits])


def render_conf(halls: Sequence[Hall]) -> str:
    workers = any(h.cfg.ingest.workers > 1 for h in halls)
    first = all_users(halls)[0].name
    lines = [
        f"# /etc/mosquitto/conf.d/{CONF_NAME}: made by `hallgate broker-config`. The hall's broker for its",
        "# MQTT devices and the gateway. Devices and the gateway log in (no anonymous clients); each may",
        f"# use only its own topics ({ACL_PATH}, made with this file).",
        "per_listener_settings false",
        "allow_anonymous false",
        "# Mosquitto has no comments after a value (they would become part of it). The users are the",
        "# ACL's `user` lines (`hallgate broker-config --out DIR` prints a line for each), each with its",
        f"# password: `mosquitto_passwd -c {PASSWORD_PATH} {first}` for the first (-c makes",
        "# the file), then each other without -c. The gateway's password is its HALLGATE_MQTT_PASSWORD.",
        *([f"# Its ingest workers ({first}-w1, ...) log in with the same password."] if workers else []),
        f"password_file {PASSWORD_PATH}",
        f"acl_file {ACL_PATH}",
        "",
        "# Devices on the hall LAN (plain MQTT; use the TLS listener below where the LAN is shared).",
        "listener 1883 0.0.0.0",
        "protocol mqtt",
        "# A client's id is its username, whatever id it sends: no one takes another's session by",
        "# sending its id (a device the gateway's, or another device's, whose will would fire). A setting",
        "# of each listener: above the first `listener` line it would open another one on 1883.",
        "use_username_as_clientid true",
        "",
        '# TLS for devices that support it (see README "Configuration", broker.tls).',
        "#listener 8883 0.0.0.0",
        "#cafile /etc/mosquitto/certs/hall-ca.pem",
        "#certfile /etc/mosquitto/certs/broker.pem",
        "#keyfile /etc/mosquitto/certs/broker.key",
        "#require_certificate false",
        "#use_username_as_clientid true",
        "",
        "# Devices publish QoS 1 and wills; queued messages survive a gateway restart. Debian's own",
        "# /etc/mosquitto/mosquitto.conf (which includes this folder) already turns persistence on in",
        "# /var/lib/mosquitto/ and logs to /var/log/mosquitto/: setting persistence_location or the log",
        '# file again here would stop Mosquitto from starting ("Duplicate ... value").',
        "autosave_interval 60",
        "# Per client, the bridge to the district too (district.broker.max_queued_messages).",
        f"max_queued_messages {queue_limit(halls)}",
        "max_inflight_messages 100",
        "# A payload of up to 64 KiB (the profiles' default max_bytes) and its topic and headers.",
        "max_packet_size 70000",
        "connection_messages true",
        "",
        "# The bridge to the district broker, if district.broker is set: hallgate-bridge.conf.",
    ]
    return "\n".join(lines) + "\n"
