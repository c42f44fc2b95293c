"""One catalogue entry and how its specifics are filled in. Imports nothing of the gateway, so
that a kind package can declare its entries without importing the catalogue (a cycle)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

# A template's `[...]` part names specifics (`{slot}`); it is left out when one is not known.
# Outside `[...]` a template names none, so every error has a message whatever it carries.
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{(\w+)\}")


class Entry(NamedTuple):
    """What a person reads for an error code: what happened, and what to do next (who may,
    when, whom to ask) where there is something to do."""

    message: str
    next: str | None = None


def fields(template: str) -> set[str]:
    return set(_FIELD.findall(template))


def bare_fields(template: str) -> set[str]:
    """The specifics a template names outside `[...]` (an entry must name none there)."""
    return fields(_OPTIONAL.sub("", template))


def fill(template: str, values: Mapping[str, Any]) -> str:
    def part(m: re.Match[str]) -> str:
        text = m.group(1)
        if any(values.get(name) in (None, "") for name in fields(text)):
            return ""
        return _FIELD.sub(lambda f: str(values[f.group(1)]), text)

    return _OPTIONAL.sub(part, template)
