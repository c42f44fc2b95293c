"""People as the public wall shows them: by name, masked, never by staff id. Pure."""

from __future__ import annotations

from collections.abc import Mapping


def mask_name(name: str) -> str:
    """王芳 -> 王*, 欧阳娜娜 -> 欧***: the first character and one * for each one hidden."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def public_name(staff_id: str | None, names: Mapping[str, str], mask: bool) -> str | None:
    """What the wall may show of a person: the registry's name (masked when `mask`), or nothing.
    A person the registry does not know is not shown by id instead."""
    name = names.get(staff_id) if staff_id is not None else None
    if name is None:
        return None
    return mask_name(name) if mask else name
