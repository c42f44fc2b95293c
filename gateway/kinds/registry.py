"""The device kinds this gateway knows, listed explicitly (Telegraf's registry.go, in Python).

A new kind is a package in gateway/kinds/ with a `KIND` (its HTTP routes, if any, in its `api.py`),
a profile in configs/profiles/ and a simulator; the hub, the API and the health module do not change.
`register()` adds one at run time (tests, or a deployment's own kinds) before the configuration is
loaded; a kind with settings of its own must be registered before `gateway.config.hall` is first
imported (the hall model is composed then, and load_config refuses to run without a registered kind's
section).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.kinds import attendance, lockbox, people_counter, pickup_locker, queue, rating_pad
from gateway.kinds.base import COMMON_PARAMS, Kind, Metrics, Param
from gateway.kinds.rating_pad import settings as rating_pad_settings
from gateway.store.repository import Repository

KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    known = {**device_params(), **kind.device_params}
    unknown = kind.params - set(known)
    if unknown:
        raise ValueError(f"kind {kind.name}: unknown parameters {sorted(unknown)}; known: {sorted(known)}")
    # One definition per parameter: a kind may declare one another kind brought only as the same Param.
    for name, param in kind.device_params.items():
        defined = [(k.name, k.device_params[name]) for k in KINDS.values() if name in k.device_params]
        owner = "common" if name in COMMON_PARAMS else next((n for n, p in defined if p is not param), None)
        if owner is not None:
            raise ValueError(f"kind {kind.name}: parameter {name!r} is {owner}'s already: take it, do not declare it")
    for what, ref in (("router", kind.router), ("runs", kind.runs)):
        if ref is not None and ":" not in ref:
            raise ValueError(f"kind {kind.name}: {what} {ref!r} is not 'module:attribute'")
    taken = {k.settings.key: k.name for k in KINDS.values() if k.settings and k.name != kind.name}
    if kind.settings and kind.settings.key in taken:
        raise ValueError(f"kind {kind.name}: settings key {kind.settings.key!r} is {taken[kind.settings.key]}'s")
    KINDS[kind.name] = kind
    return kind


def device_params() -> dict[str, Param]:
    """Every device parameter a registered kind brings, and the common ones, in registry order:
    what the hall file's devices may carry beside their id, kind, profile and link."""
    out = dict(COMMON_PARAMS)
    for kind in KINDS.values():
        for name, param in kind.device_params.items():
            out.setdefault(name, param)
    return out


def stores() -> list[type[Repository]]:
    """Every registered kind's stores, for the Journal to migrate: all of them, not only those of
    the kinds the hall has now, so a hall that adds a device of a kind later finds its tables made
    (and migrated) like every other's."""
    return [store for kind in KINDS.values() for store in kind.stores]


def metrics() -> list[Metrics]:
    """Every registered kind's metric families, in the order the kinds were registered."""
    return [kind.metrics for kind in KINDS.values() if kind.metrics is not None]


# The rating pad's package is being reworked on another branch: its settings join its KIND here
# until that lands (then `settings=SETTINGS` moves into its KIND like the other kinds').
for _kind in (
    lockbox.KIND,
    pickup_locker.KIND,
    attendance.KIND,
    replace(rating_pad.KIND, settings=rating_pad_settings.SETTINGS),
    people_counter.KIND,
    queue.KIND,
):
    register(_kind)
