"""Which stored records a full outbox drops to make room: a plan, made before anything is deleted.

Pure: the stored records are read through `next_rows`, so the rules can be tried on a list as well
as on the outbox's table. The rules (gateway/store/outbox.py's module doc): the least important
class first (TELEMETRY, then EVENT), oldest first; never a class more important than the incoming
record, and never AUDIT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.domain.canonical import Priority

DROP_ORDER = tuple(sorted(Priority, reverse=True))  # TELEMETRY, EVENT, AUDIT

# (class, after id) -> that class's next stored records as (id, size), in id order; empty at its end.
NextRows = Callable[[Priority, int], Sequence[tuple[int, int]]]


def plan_eviction(
    incoming: Priority,
    need: int,
    count: dict[Priority, int],
    nbytes: dict[Priority, int],
    evict_upto: dict[Priority, int],
    next_rows: NextRows,
) -> bool:
    """Choose the oldest records of classes no more important than `incoming` to free `need` bytes.

    When that is possible, updates count/nbytes/evict_upto in place and returns True;
    otherwise changes nothing (a record that will be refused anyway evicts nobody).
    Deletion happens later, in the same transaction, as one range delete per class.
    """
    freed = 0
    plan_count, plan_bytes, plan_upto = dict(count), dict(nbytes), dict(evict_upto)
    for prio in DROP_ORDER:
        # Never a more important class than the incoming record, and never AUDIT.
        if prio < incoming or prio is Priority.AUDIT or freed >= need:
            break
        after = plan_upto.get(prio, 0)
        while freed < need and plan_count[prio] > 0:
            chunk = next_rows(prio, after)
            if not chunk:
                # The rest of this class is what this very append is adding; it is not
                # in the table yet and is never evicted by its own batch.
                break
            for rid, size in chunk:
                freed += size
                plan_count[prio] -= 1
                plan_bytes[prio] -= size
                after = rid
                if freed >= need:
                    break
        if after:
            plan_upto[prio] = after
    if freed < need:
        return False
    count.update(plan_count)
    nbytes.update(plan_bytes)
    evict_upto.update(plan_upto)
    return True
