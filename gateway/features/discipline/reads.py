"""Privacy of the named ledger: every read of violations with names is written down (who read,
what: the filter or the record ids, when) before the answer leaves; and what a person reading
their own records may see of others: nothing that names them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.commands.audit import Caller
from gateway.view import View

# Of a violation's evidence, the fields that may name someone else (a punch's person, a patrol's
# recorder): kept for the person's own record only where they name the person.
NAMING = ("staff", "by")
# What a reader who may not see names (issue 23: all but managers, duty managers and the person)
# may not see of any evidence either: who, a patrol's free text, the phone slot that is someone's.
HIDDEN = (*NAMING, "note", "device", "slot")


def audited(view: View, who: Caller, what: str, filter: Mapping[str, Any], ids: Iterable[int]) -> None:
    """One row of the ledger's read audit (GET /api/v1/violations/reads)."""
    given = {k: v for k, v in filter.items() if v is not None}
    view.journal.repos.ledger_reads.add(who.actor, who.role, what, given, list(ids), time.time_ns())


def own_view(v: dict[str, Any], staff: str) -> dict[str, Any]:
    """A violation as its own person reads it: the evidence and the trail without anyone else's
    name or id (a colleague's punch, who recorded or decided it: their role stays)."""
    evidence = [{k: x for k, x in e.items() if k not in NAMING or x == staff} for e in v["evidence"]]
    steps = [{**s, "actor": s["actor"] if s["actor"] == staff else ""} for s in v.get("steps") or []]
    return {**v, "evidence": evidence, "steps": steps}


def masked_view(v: dict[str, Any]) -> dict[str, Any]:
    """A violation as a reader who may not see names reads it: no staff id, no evidence that names
    or points at anyone, no trail (its reasons are typed by people and may name someone)."""
    evidence = [{k: x for k, x in e.items() if k not in HIDDEN} for e in v["evidence"]]
    return {**{k: x for k, x in v.items() if k != "steps"}, "staff": None, "evidence": evidence}
