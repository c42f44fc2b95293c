"""The hub's projections found by type: what they are (a class), or what they provide (a read API
that a registered kind declares in `Kind.provides`). One place for the scan, typed, so the
runtime, the read model and the features neither scan nor probe attributes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar, cast

from gateway.kinds.registry import KINDS

T = TypeVar("T")


class Projections:
    def __init__(self, items: Iterable[object]) -> None:
        self._items = list(items)

    def of(self, cls: type[T]) -> T | None:
        """The projection of this class, or None when the hall's kinds have none."""
        return next((p for p in self._items if isinstance(p, cls)), None)

    def reads(self, api: type[T]) -> T | None:
        """The projection that provides this read API (`Kind.provides`), or None."""
        for kind in KINDS.values():
            impl = kind.provides.get(api)
            if impl is not None and (p := self.of(impl)) is not None:
                return cast(T, p)
        return None
