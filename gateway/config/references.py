"""What a valid file names must exist in it: unique zone and device ids, zones that exist, a kiosk
token's device, and what each kind's own section names (its `Settings.references`)."""

from __future__ import annotations

from typing import Any

from gateway.config.hall import sections
from gateway.kinds.registry import KINDS


def reference_problems(cfg: Any, index: list[int] | None = None) -> list[tuple[str, str]]:
    """Duplicate device and zone ids and zones that do not exist, every one of them.

    `cfg`: a HallConfig, or the parts of an invalid file that validated (`index`: each device's
    position in the file)."""
    problems = []
    seen: set[str] = set()
    zones = {z.id for z in cfg.zones}
    # Two zones of one id would silently share (and overwrite) one zone's figures and capacity.
    for n, z in enumerate(cfg.zones):
        if z.id in seen:
            problems.append((f"zones[{n}] (id {z.id}).id", f"区域编号 {z.id!r} 重复：区域编号不能重复 (duplicate_id)"))
        seen.add(z.id)
    seen = set()
    for n, d in enumerate(cfg.devices):
        where = f"devices[{index[n] if index else n}] (id {d.id})"
        if d.id in seen:
            problems.append((f"{where}.id", f"设备编号 {d.id!r} 重复：设备编号不能重复 (duplicate_id)"))
        seen.add(d.id)
        for name in ("zone", "from_zone"):
            ref = getattr(d, name)
            if ref is not None and ref not in zones:
                problems.append(
                    (
                        f"{where}.{name}",
                        f"{name} {ref!r} 不在区域 {sorted(zones)} 之中："
                        "请在 zones 下添加该区域或改正名称 (unknown_zone)",
                    )
                )
    problems += _kiosk_problems(cfg)
    for s in sections():
        section = getattr(cfg, s.key, None)
        if s.references is not None and section is not None:
            problems += s.references(section, cfg.devices)
    return problems


def _kiosk_problems(cfg: Any) -> list[tuple[str, str]]:
    """A kiosk token opens one device of a kind that has kiosks (a pickup locker's own keypad)."""
    api = getattr(cfg, "api", None)
    kiosk_kinds = [name for name, kind in KINDS.items() if kind.kiosk]
    kinds = {d.id: d.kind for d in cfg.devices}
    problems = []
    for i, t in enumerate(api.tokens if api is not None else ()):
        if t.locker is not None and kinds.get(t.locker) not in kiosk_kinds:
            problems.append(
                (
                    f"api.tokens[{i}].locker",
                    f"{t.locker!r} 不是本厅的 {' 或 '.join(kiosk_kinds)}：请填 "
                    f"{sorted(k for k, v in kinds.items() if v in kiosk_kinds)} 之一 (unknown_device)",
                )
            )
    return problems
