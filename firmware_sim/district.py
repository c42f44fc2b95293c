"""Gateway configurations for a simulated district: one hall YAML per site.

`hallgate sim district --write-configs DIR` writes `DIR/{site}.yaml` for every simulated site, so a
tester can start one gateway per site (`hallgate run -c DIR/village-001.yaml`) against the
simulators. The copy is the template hall file with what must differ per site rewritten: `site`,
device ids (suffix `-NNN`), each Modbus device's port (as the simulator serves it), the broker
the simulators use, the API port (`api_port_base + i - 1`) and the store paths (`var/{site}/`).
Everything else (zones, profiles, tokens, influx) is copied as it is. This module writes data
only; it knows nothing of the gateway's models (the tests check the files with the gateway).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def site_config(
    template: Mapping[str, Any],
    *,
    site: str,
    id_suffix: str,
    modbus_ports: Mapping[tuple[str, int], int],
    modbus_host: str | None,
    broker: tuple[str, int, str],
    api_port: int,
) -> dict[str, Any]:
    """The gateway configuration of one simulated site, from the template's parsed YAML."""
    cfg = copy.deepcopy(dict(template))
    cfg["site"] = site
    host, port, protocol = broker
    cfg["broker"] = {**(cfg.get("broker") or {}), "host": host, "port": port, "protocol": protocol}
    cfg["api"] = {**(cfg.get("api") or {}), "port": api_port}
    store = dict(cfg.get("store") or {})
    store["path"] = f"var/{site}/outbox.sqlite"
    if "state_path" in store:
        store["state_path"] = f"var/{site}/state.sqlite"
    cfg["store"] = store
    devices = []
    for entry in cfg.get("devices") or []:
        entry = dict(entry)
        entry["id"] = f"{entry['id']}{id_suffix}"
        mb = entry.get("modbus")
        if isinstance(mb, Mapping) and not mb.get("serial"):
            key = (str(mb.get("host", "127.0.0.1")), int(mb["port"]))
            entry["modbus"] = {**mb, "host": modbus_host or key[0], "port": modbus_ports[key]}
        topic = (entry.get("mqtt") or {}).get("topic")
        if isinstance(topic, str) and "{site}" not in topic:
            # a fixed topic would collide between sites: the simulator publishes it per site too
            entry["mqtt"] = {**entry["mqtt"], "topic": topic.replace(str(template.get("site")), site)}
        devices.append(entry)
    cfg["devices"] = devices
    return cfg


def write_configs(folder: Path, configs: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """Write `{site}.yaml` per site; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for site, cfg in configs.items():
        path = folder / f"{site}.yaml"
        text = "# written by `hallgate sim district`: the gateway of one simulated site\n"
        text += yaml.safe_dump(dict(cfg), allow_unicode=True, sort_keys=False, width=120)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
