"""Profiles as data: each case in tests/profile_cases is a wire dump in and canonical signals out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from drivers.profiles.loader import ProfileError, find_profile, load_profile
from drivers.profiles.modbus_map import compile_plan
from drivers.profiles.mqtt_json import DecodeError, MqttDecoder, parse_iso8601_ns
from gateway.config import DEFAULT_PROFILES_DIR

CASES = Path(__file__).parent / "profile_cases"
DIRS = [CASES / "profiles", DEFAULT_PROFILES_DIR]


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_profile_case(case: Path) -> None:
    spec = yaml.safe_load(case.read_text())
    profile = find_profile(spec["profile"], DIRS)
    if profile.protocol == "modbus":
        plan = compile_plan(profile)
        assert [[r.table, r.address, r.count] for r in plan.requests] == spec["expect_requests"]
        assert plan.decode(spec["registers"]) == spec["expect_values"]
        return
    decoder = MqttDecoder(profile)
    payload = spec["payload"].encode()
    if "error" in spec:
        with pytest.raises(DecodeError, match=spec["error"]):
            decoder.decode("dev-1", spec["channel"], payload, 0)
        return
    event = decoder.decode("dev-1", spec["channel"], payload, spec.get("received_ns", 0))
    expect = spec["expect"]
    assert (event.name, event.seq, event.ts_ns, event.fields) == (
        expect["name"], expect["seq"], expect["ts_ns"], expect["fields"])


def test_every_shipped_profile_loads_and_is_named_after_its_file() -> None:
    files = sorted(DEFAULT_PROFILES_DIR.glob("*.yaml"))
    assert {p.stem for p in files} >= {"ref-rating-pad", "ref-lockbox", "ref-attendance",
                                        "ref-pickup-locker", "ref-people-counter"}
    for path in files:
        assert load_profile(path).name == path.stem


def test_bad_profile_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "name: broken\nkind: people_counter\nprotocol: modbus\nsignals:\n"
        "  x: {table: discrete, address: 0, type: float32}\n")
    with pytest.raises(ProfileError, match=r"broken.yaml: .*signals.x.*does not fit the discrete table"):
        find_profile("broken", [tmp_path])


def test_missing_profile_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"no profile 'nope' in .*add nope\.yaml"):
        find_profile("nope", [tmp_path])


def test_unknown_channel_is_a_decode_error() -> None:
    decoder = MqttDecoder(find_profile("ref-rating-pad", DIRS))
    with pytest.raises(DecodeError, match="channel 'cmd'"):
        decoder.decode("d", "cmd", b"{}", 0)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(-12 * 60, 14 * 60))
def test_iso8601_times_convert_to_the_exact_nanosecond(moment: datetime, offset_min: int) -> None:
    dt = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    exact = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
    assert parse_iso8601_ns(dt.isoformat()) == exact
