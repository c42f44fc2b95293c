"""The device kinds this gateway knows, listed explicitly (Telegraf's registry.go, in Python).

A new kind is a package in gateway/kinds/ with a `KIND`, a profile in configs/profiles/ and a
simulator; the hub, the API and the health module do not change. `register()` adds one at run time
(tests, or a deployment's own kinds) before the configuration is loaded.
"""

from __future__ import annotations

from gateway.kinds import attendance, lockbox, people_counter, pickup_locker, rating_pad
from gateway.kinds.base import KIND_PARAMS, Kind

KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    unknown = kind.params - set(KIND_PARAMS)
    if unknown:
        raise ValueError(f"kind {kind.name}: unknown parameters {sorted(unknown)}; known: {KIND_PARAMS}")
    KINDS[kind.name] = kind
    return kind


for _module in (lockbox, pickup_locker, attendance, rating_pad, people_counter):
    register(_module.KIND)
