"""The staff registry (`staff:`) checked against the rest of the file, and completed from it.

A person's A/B post and phone slot may be given in their entry or left out: then they come from
`posts:` (who is A or B of which window) and `phones.lockboxes` (whose phone goes in which slot).
Given in both places, they must agree. Errors carry the field's location in the file, so the
loader can name its line (gateway/config/load.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class StaffEntry:
    id: str
    name: str
    department: str
    window: str | None
    post: str | None  # A, B
    device: str | None  # their phone's cabinet
    slot: int | None


def _posts(cfg: Any) -> dict[str, tuple[str, str]]:
    """Staff id -> (window, A or B) from `posts:`."""
    out: dict[str, tuple[str, str]] = {}
    for p in cfg.posts:
        out.setdefault(p.a, (p.window, "A"))
        if p.b:
            out.setdefault(p.b, (p.window, "B"))
    return out


def _slots(cfg: Any) -> dict[str, tuple[str, int]]:
    """Staff id -> (cabinet, slot) from the phones section, when the hall has one."""
    phones = getattr(cfg, "phones", None)
    return {staff: (m.device, slot) for m in getattr(phones, "lockboxes", ()) for staff, slot in m.slots.items()}


def _windows(cfg: Any) -> set[str]:
    return {p.window for p in cfg.posts} | {w for d in cfg.devices if isinstance(w := getattr(d, "window", None), str)}


def staff_problems(cfg: Any) -> list[tuple[str, str, Loc]]:
    """(field path, message with what to do, location in the file) of every problem of `staff:`."""
    return list(_problems(cfg))


def _problems(cfg: Any) -> Iterator[tuple[str, str, Loc]]:
    posts, slots, windows = _posts(cfg), _slots(cfg), _windows(cfg)
    seen: dict[str, int] = {}
    phones: dict[tuple[str, int], str] = {}
    for i, p in enumerate(cfg.staff):
        where = f"staff[{i}] (id {p.id})"
        if p.id in seen:
            yield (
                f"{where}.id",
                f"工号 {p.id!r} 已是 staff[{seen[p.id]}]：每人只写一条 (duplicate_id)",
                (
                    "staff",
                    i,
                    "id",
                ),
            )
        seen.setdefault(p.id, i)
        if p.window is not None and windows and p.window not in windows:
            yield (
                f"{where}.window",
                f"窗口 {p.window!r} 不是本厅的窗口 {sorted(windows)} 之一：请改正或在 posts 中添加 (unknown_window)",
                ("staff", i, "window"),
            )
        post = posts.get(p.id)
        if p.post is not None and post is not None and (p.post != post[1] or (p.window or post[0]) != post[0]):
            yield (
                f"{where}.post",
                f"此处写 {p.window or post[0]} {p.post}，posts[] 却是 {post[0]} {post[1]}：请改为一致 (post_mismatch)",
                ("staff", i, "post"),
            )
        elif post is not None and p.window is not None and p.window != post[0]:
            yield (
                f"{where}.window",
                f"此处写窗口 {p.window}，posts[] 却在 {post[0]}：请改为一致 (post_mismatch)",
                ("staff", i, "window"),
            )
        if p.phone is None:
            continue
        place = (p.phone.device, p.phone.slot)
        if (other := phones.setdefault(place, p.id)) != p.id:
            yield (
                f"{where}.phone",
                f"{place[0]} 的 {place[1]} 号格口已属于 {other}：每人用自己的格口 (slot_taken)",
                ("staff", i, "phone"),
            )
        mapped = slots.get(p.id)
        if mapped is not None and mapped != place:
            yield (
                f"{where}.phone",
                f"此处写 {place[0]} 的 {place[1]} 号格口，phones.lockboxes 却是 {mapped[0]} 的 {mapped[1]} 号："
                "请改为一致 (slot_mismatch)",
                ("staff", i, "phone"),
            )
        elif mapped is None and (owner := next((s for s, at in slots.items() if at == place), None)) is not None:
            yield (
                f"{where}.phone",
                f"{place[0]} 的 {place[1]} 号格口在 phones.lockboxes 中属于 {owner}：每人用自己的格口 (slot_taken)",
                ("staff", i, "phone"),
            )


def registry(cfg: Any) -> list[StaffEntry]:
    """Every person of `staff:`, their post and slot completed from posts[] and the phones section."""
    posts, slots = _posts(cfg), _slots(cfg)
    out = []
    for p in cfg.staff:
        window, post = posts.get(p.id, (p.window, p.post))
        device, slot = (p.phone.device, p.phone.slot) if p.phone else slots.get(p.id, (None, None))
        out.append(StaffEntry(p.id, p.name, p.department, p.window or window, p.post or post, device, slot))
    return out
