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
    # A projection is given what it sees of the state database (kinds/base.py StateDatabase): a
    # test's may have no repositories, and so no changes.
    repos = getattr(journal, "repos", None)
    return repos.staff.entries() if repos is not None else []


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


class Roster:
    """The registry for the parts that run all day (a 差评's alert, the discipline watch and rounds,
    the robots' notices, the reports): read once, and again only after a change (the overlay's
    `version` moves on each `POST /api/v1/staff`, on this same event loop), so a change counts at
    once, without a restart and without a read of the database per message."""

    def __init__(self, cfg: Any, journal: Any = None) -> None:
        self.base, self.journal = cfg, journal
        self.seen = -1  # the overlay's version this snapshot is of
        self._cfg, self._people, self._by_id, self._names = cfg, [], {}, {}
        self.refresh()

    @property
    def version(self) -> int:
        repos = getattr(self.journal, "repos", None)
        return repos.staff.version if repos is not None else 0

    def refresh(self) -> bool:
        """Read again if the registry changed since; whether it did (a part's own maps follow)."""
        v = self.version
        if v == self.seen:
            return False
        self._cfg = _overlaid(self.base, _changes(self.journal))
        self._people = registry(self._cfg)
        self._by_id = {p.id: p for p in self._people}
        self._names = {p.id: p.name for p in self._people}
        self.seen = v
        return True

    def cfg(self) -> Any:
        """The configuration with its `staff:` as the registry is now."""
        self.refresh()
        return self._cfg

    def people(self) -> list[StaffEntry]:
        self.refresh()
        return self._people

    def by_id(self) -> dict[str, StaffEntry]:
        self.refresh()
        return self._by_id

    def names(self) -> dict[str, str]:
        self.refresh()
        return self._names

    def departments(self) -> dict[str, str]:
        return {p.id: p.department for p in self.people()}
