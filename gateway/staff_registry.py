"""The staff registry as it is now: the configuration's `staff:` with the changes made through the
API over it (`POST /api/v1/staff`, kept in the state database: gateway/store/repos/staff.py). The
one read path of who a staff id is for the API (`GET /api/v1/staff`, which the pages read, and the
names the routes give beside a staff id: a post's person, a ledger's), and the one check of a change: the same as the
configuration's (gateway/config/staff.py), with the same Chinese messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from drivers.profiles.validation import hint_of
from gateway.config.hall import Person
from gateway.config.staff import StaffEntry, registry, staff_problems


def _overlaid(cfg: Any, changes: list[tuple[dict[str, Any], bool]]) -> Any:
    """The configuration with its staff[] as the changes leave it: a person replaced in place or
    added at the end, a retired one left out."""
    staff = {p.id: p for p in cfg.staff}
    for entry, active in changes:
        staff.pop(entry["id"], None)
        if active:
            staff[entry["id"]] = Person.model_validate(entry)
    return cfg.model_copy(update={"staff": list(staff.values())})


def _changes(journal: Any) -> list[tuple[dict[str, Any], bool]]:
    return journal.repos.staff.entries() if journal is not None else []


def people(cfg: Any, journal: Any) -> list[StaffEntry]:
    """Every person of the registry now, post and slot completed from posts[] and the phones section."""
    return registry(_overlaid(cfg, _changes(journal)))


def names(cfg: Any, journal: Any) -> dict[str, str]:
    return {p.id: p.name for p in people(cfg, journal)}


def problems(cfg: Any, journal: Any, entry: dict[str, Any], active: bool) -> list[tuple[str, str]]:
    """(field, 中文 message) of every problem the change would bring, as check-config says them."""
    try:
        Person.model_validate(entry)
    except ValidationError as e:
        return [(".".join(map(str, err["loc"])) or "(body)", hint_of(err)) for err in e.errors()]
    # The same entry given twice in the file would be a duplicate: a change replaces the person.
    after = _overlaid(cfg, [*_changes(journal), (entry, active)])
    return [(where, said) for where, said, _ in staff_problems(after)]
