"""A lockbox slot shows the newest state by the device's own time, whatever order events arrive in
(QoS 1 redelivery, or two ingest workers handing over a device's events)."""

from __future__ import annotations

from gateway.domain.canonical import ACK, Event
from gateway.kinds.lockbox import SlotBook


def test_an_older_event_arriving_later_does_not_undo_a_newer_one() -> None:
    book = SlotBook({"lb-1"})
    book.apply(Event("lb-1", "door_open", 2_000, {"slot": 3}), 0)
    book.apply(Event("lb-1", "door_closed", 1_000, {"slot": 3}), 0)  # happened before the opening
    book.apply(Event("lb-1", "phone_in", 5_000, {"slot": 3}), 0)
    book.apply(Event("lb-1", "phone_out", 4_000, {"slot": 3}), 0)
    slot = book.slots["lb-1"]["3"]
    assert slot["door"] == "open" and slot["phone"] is True and slot["since_ns"] == 5_000
    book.apply(Event("lb-1", "door_closed", 6_000, {"slot": 3}), 0)
    assert book.slots["lb-1"]["3"]["door"] == "closed"


def test_a_snapshot_in_arrival_time_is_applied_whatever_the_device_clock_says() -> None:
    book = SlotBook({"lb-1"})
    book.apply(Event("lb-1", "phone_in", 9_000, {"slot": 3}), 0)  # the device's clock runs ahead
    snapshot = Event("lb-1", ACK, 1_000, {"slots": '[{"slot": 3, "door": "closed", "locked": true, "phone": false}]'})
    book.apply(snapshot, 0)
    assert book.slots["lb-1"]["3"]["phone"] is False
    book.apply(Event("lb-1", "phone_in", 9_500, {"slot": 3}), 0)
    assert book.slots["lb-1"]["3"]["phone"] is True
