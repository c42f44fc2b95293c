"""What a kind adds to a running gateway and the read APIs it provides are found from the
registry, by type: the runtime, the read model and the features name no kind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.features import FEATURES, compliance
from gateway.kinds import lockbox
from gateway.kinds.lockbox import SlotBook
from gateway.kinds.lookup import Projections
from gateway.kinds.reads import Presence, Slots
from gateway.kinds.registry import register
from gateway.kinds.wiring import kind_builders


def test_a_read_api_is_found_on_the_projection_of_the_kind_that_provides_it() -> None:
    book = SlotBook({"lb-1"})
    book.slots["lb-1"]["3"] = {"phone": True}
    found = Projections([object(), book]).reads(Slots)
    assert found is book
    assert found.slot("lb-1", 3) == {"phone": True} and found.slot("lb-1", 4) == {}
    # Nobody in the list provides who is in: no attendance projection, so None (not a guess).
    assert Projections([book]).reads(Presence) is None
    assert Projections([book]).of(SlotBook) is book


def test_only_the_halls_kinds_add_their_running_parts_in_the_registrys_order() -> None:
    from gateway.kinds.lockbox.openings import run as openings
    from gateway.kinds.pickup_locker.desk import run as pickup
    from gateway.kinds.rating_pad.feed import run as ratings_feed

    assert kind_builders([]) == []
    assert kind_builders(["lockbox", "lockbox"]) == [openings]
    assert kind_builders(["pickup_locker", "lockbox"]) == [openings, pickup]
    assert kind_builders(["pickup_locker", "lockbox", "rating_pad"]) == [openings, pickup, ratings_feed]
    assert compliance.run in FEATURES


def test_a_kind_whose_runs_is_not_module_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match=r"runs 'nowhere' is not 'module:attribute'"):
        register(replace(lockbox.KIND, name="bad_lockbox", settings=None, runs="nowhere"))
