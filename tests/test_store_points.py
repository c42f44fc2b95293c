from __future__ import annotations

import pytest

from gateway.domain.canonical import Event
from gateway.store.points import PointError, point_ts, to_line

T = 1_700_000_000_123_456_789


def test_reading_is_measured_as_its_kind() -> None:
    line = to_line(Event("pc-1", "reading", T, {"in": 5, "out": 2}), "hall-a", "people_counter")
    assert line == f"people_counter,device=pc-1,kind=people_counter,site=hall-a in=5i,out=2i {T}"


def test_status_heartbeat_and_other_events() -> None:
    assert to_line(Event("d", "status", T, {"online": True}), "s", "k").startswith(
        "device_status,device=d,kind=k,site=s "
    )
    assert to_line(Event("d", "heartbeat", T, {"rssi": -61.5}), "s", "k").startswith("heartbeat,")
    line = to_line(Event("pad-7", "rated", T, {"score": 1}, seq=42), "s", "rating_pad")
    assert line.startswith("rating_pad_event,device=pad-7,kind=rating_pad,site=s,type=rated score=1i,seq=42i ")


def test_field_types() -> None:
    fields = {
        "b": False,
        "f": 1.5,
        "s": 'say "hi" \\ 窗口',
        "tags": ["a", "b"],
        "doors": [True, False, True],
        "n": None,
    }
    line = to_line(Event("d", "x", T, fields), "s", "k")
    assert 'b=false,f=1.5,s="say \\"hi\\" \\\\ 窗口",tags="a,b",doors=5i ' in line
    assert "n=" not in line


def test_escaping_of_names_tags_and_keys() -> None:
    line = to_line(Event("door 1,A=b", "door open", T, {"a key,x=y": 1}), "hall one", "lock box")
    assert line.startswith(
        "lock\\ box_event,device=door\\ 1\\,A\\=b,kind=lock\\ box,site=hall\\ one,type=door\\ open a\\ key\\,x\\=y=1i "
    )
    assert "\n" not in to_line(Event("a\nb", "x", T, {"v": 1}), "s", "k")


def test_non_finite_floats_are_skipped_and_empty_events_refused() -> None:
    line = to_line(Event("d", "reading", T, {"t": float("nan"), "u": float("-inf"), "v": 1}), "s", "k")
    assert line == f"k,device=d,kind=k,site=s v=1i {T}"
    for empty in ({"t": None}, {"t": float("nan")}, {"t": float("inf"), "u": None}):
        with pytest.raises(PointError) as e:
            to_line(Event("d", "reading", T, empty), "s", "k")
        assert e.value.reason == "missing_field", empty
    with pytest.raises(PointError) as e:
        to_line(Event("d", "reading", T, {"t": {"nested": 1}}), "s", "k")
    assert e.value.reason == "bad_type"


def test_seq_goes_into_the_sub_millisecond_part() -> None:
    assert point_ts(T, None) == T
    assert point_ts(T, 7) == 1_700_000_000_123_000_007
    assert point_ts(T, 1_000_007) == 1_700_000_000_123_000_007
    a = to_line(Event("d", "rated", T, {"v": 1}, seq=1), "s", "k")
    b = to_line(Event("d", "rated", T + 5, {"v": 1}, seq=2), "s", "k")
    assert a.rsplit(" ", 1)[1] != b.rsplit(" ", 1)[1]
    # A redelivery is byte-identical, so it overwrites itself.
    assert a == to_line(Event("d", "rated", T, {"v": 1}, seq=1), "s", "k")


def test_unencodable_text_is_a_point_error_never_a_unicode_error() -> None:
    for event in (
        Event("d", "rated", T, {"item": "\ud800"}),
        Event("d\udfff", "x", T, {"v": 1}),
        Event("d", "x", T, {"k\ud800": 1}),
        Event("d", "x", T, {"v": ["a", "\ud800"]}),
    ):
        with pytest.raises(PointError, match="not valid Unicode") as err:
            to_line(event, "s", "k")
        assert err.value.reason == "bad_text"
    line = to_line(Event("d", "x", T, {"item": "营业执照"}), "s", "k")
    assert line.encode("utf-8")


def test_newlines_in_string_fields_are_escaped() -> None:
    line = to_line(Event("d", "x", T, {"note": 'a\nb\r"c"'}), "s", "k")
    assert "\n" not in line and "\r" not in line
    assert 'note="a\\nb\\r\\"c\\""' in line


def test_integers_beyond_int64_are_refused_and_empty_lists_are_empty_strings() -> None:
    for value in (2**63, -(2**63) - 1, [True] * 64, 10**5000):
        with pytest.raises(PointError, match="int64") as err:
            to_line(Event("d", "x", T, {"v": value}), "s", "k")
        assert err.value.reason == "out_of_range"
    assert to_line(Event("d", "x", T, {"v": 2**63 - 1}), "s", "k").endswith(f"v={2**63 - 1}i {T}")
    line = to_line(Event("d", "rated", T, {"score": 5, "reasons": []}), "s", "k")
    assert 'score=5i,reasons="" ' in line  # "no reasons" replaces the last reasons in a query


def test_timestamps_must_be_int64_nanoseconds() -> None:
    with pytest.raises(PointError, match="timestamp"):
        to_line(Event("d", "x", 2**64, {"v": 1}), "s", "k")


def test_unsupported_values_holding_huge_ints_are_point_errors() -> None:
    for value in ({10**5000}, [10**5000], {"a": 10**5000}):
        with pytest.raises(PointError, match="unsupported") as err:
            to_line(Event("d", "x", T, {"v": value}), "s", "k")
        assert err.value.reason == "bad_type"
    with pytest.raises(PointError, match="timestamp"):
        to_line(Event("d", "x", 10**5000, {"v": 1}), "s", "k")
