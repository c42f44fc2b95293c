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
                f"staff id {p.id!r} is already staff[{seen[p.id]}]: give each person one entry",
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
                f"window {p.window!r} is not one of this hall's windows {sorted(windows)}: fix it or add its post",
                ("staff", i, "window"),
            )
        post = posts.get(p.id)
        if p.post is not None and post is not None and (p.post != post[1] or (p.window or post[0]) != post[0]):
            yield (
                f"{where}.post",
                f"says {p.window or post[0]} {p.post} but posts[] makes them {post[0]} {post[1]}: make them agree",
                ("staff", i, "post"),
            )
        elif post is not None and p.window is not None and p.window != post[0]:
            yield (
                f"{where}.window",
                f"says window {p.window} but posts[] puts them at {post[0]}: make them agree",
                ("staff", i, "window"),
            )
        if p.phone is None:
            continue
        place = (p.phone.device, p.phone.slot)
        if (other := phones.setdefault(place, p.id)) != p.id:
            yield (
                f"{where}.phone",
                f"{place[0]} slot {place[1]} is already {other}'s: give each person their own slot",
                ("staff", i, "phone"),
            )
        mapped = slots.get(p.id)
        if mapped is not None and mapped != place:
            yield (
                f"{where}.phone",
                f"says {place[0]} slot {place[1]} but phones.lockboxes gives {mapped[0]} slot {mapped[1]}: "
                "make them agree",
                ("staff", i, "phone"),
            )
        elif mapped is None and (owner := next((s for s, at in slots.items() if at == place), None)) is not None:
            yield (
                f"{where}.phone",
                f"{place[0]} slot {place[1]} is {owner}'s in phones.lockboxes: give each person their own slot",
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
