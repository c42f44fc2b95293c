"""A bounded map that keeps the most recently seen keys and counts the ones it let go.

For what outsiders can invent without end (device ids under the hall's topics, channels of a
device): a flood keeps memory bounded and the list shows what is happening now, not the first
arrivals of long ago. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.evicted = 0  # keys let go to make room, in all
        self._items: OrderedDict[K, V] = OrderedDict()  # least recently seen first

    def seen(self, key: K, make: Callable[[], V]) -> tuple[V, bool]:
        """The key's value (made when new), now the most recent; True when it was new."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
            return value, False
        value = self._items[key] = make()
        if len(self._items) > self.limit:
            self._items.popitem(last=False)
            self.evicted += 1
        return value, True

    def newest_first(self) -> list[V]:
        return list(reversed(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
