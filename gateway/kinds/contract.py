"""A kind's word on events that lack a field, compiled once per kind and applied to every decoded
event before it is stored or projected.

A profile may leave a field out of an event (the vendor did not send it, sent null, or sent a
value the profile declares as "no value": a pad's 0 for "not rated", 0xFFFF for "no reading").
Whether that is fine is the kind's to say, not the profile's: a rating pad's `rated` without a
score is an unrated visit (stored and counted as `unrated`), a lockbox's door event without its
slot says nothing and is quarantined with the reason. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.profiles.errors import DecodeError
from gateway.domain.canonical import Event
from gateway.kinds.base import Kind

Contract = Callable[[Event], Event]


def compile_contract(kind: Kind) -> Contract | None:
    """The kind's rules as one function (None when it has none: no cost per message).

    Raises DecodeError (reason `missing_field`) for an event lacking a field its kind requires.
    """
    required = {name: tuple(sorted(fields)) for name, fields in kind.required.items() if fields}
    without = dict(kind.without)
    if not required and not without:
        return None

    def apply(event: Event) -> Event:
        rule = without.get(event.name)
        if rule is not None and rule[0] not in event.fields:
            event = Event(event.device, rule[1], event.ts_ns, event.fields, event.seq)
        needed = required.get(event.name)
        if needed is not None:
            missing = [f for f in needed if f not in event.fields]
            if missing:
                raise DecodeError(
                    "missing_field",
                    f"{event.name}: missing {', '.join(missing)}, which a {kind.name} event needs "
                    "(not sent, null, or the vendor's no-value)",
                )
        return event

    return apply


def compile_contracts(kinds: dict[str, Kind]) -> dict[str, Contract]:
    """Kind name -> its contract, for the kinds that have one."""
    return {name: c for name, kind in kinds.items() if (c := compile_contract(kind)) is not None}
