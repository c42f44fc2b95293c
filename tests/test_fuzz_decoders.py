"""Every input survives: hypothesis throws bytes and JSON-ish poison at every shipped and test profile.

Properties: `decode` raises DecodeError and nothing else; every Event it accepts becomes a line
that encodes to UTF-8, holds no raw newline, and writes each field as the InfluxDB type its
profile declares (one type per field, whatever the device sends). to_line/format_field on their
own raise PointError and nothing else. Modbus plans give every signal its declared type.
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from drivers.profiles.loader import load_profile
from drivers.profiles.modbus_map import compile_plan
from drivers.profiles.model import ModbusProfile, MqttProfile
from drivers.profiles.mqtt_json import DecodeError, MqttDecoder
from drivers.profiles.specs import FieldSpec
from drivers.profiles.values import INFLUX_TYPES
from gateway.config.load import DEFAULT_PROFILES_DIR
from gateway.domain.canonical import Event
from gateway.store.points import PointError, format_field, to_line

PROFILE_FILES = sorted(DEFAULT_PROFILES_DIR.glob("*.yaml")) + sorted(
    (Path(__file__).parent / "profile_cases" / "profiles").glob("*.yaml")
)
PROFILES = [load_profile(p) for p in PROFILE_FILES]
MQTT = [p for p in PROFILES if isinstance(p, MqttProfile)]
MODBUS = [p for p in PROFILES if isinstance(p, ModbusProfile)]
DECODERS = {p.name: MqttDecoder(p, hall_tz="Asia/Shanghai") for p in MQTT}
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POISON_TEXT = st.sampled_from(["\ud800", "a\udfffb", "\x00", "line\nbreak", 'q"uote\\', "窗口", ""])
TEXT = st.one_of(st.text(max_size=20), POISON_TEXT)
NUMBER = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-5, 120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([87, 87.0, -61.5, 1e308, 2**63, 0, 10**1000]),
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBER, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


CLEAN_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
# Escaped into otherwise good payloads (ensure_ascii), a lone surrogate is valid JSON: the case
# that used to pass decode and fail at UTF-8 encoding.
MOSTLY_CLEAN_TEXT = st.one_of(CLEAN_TEXT, CLEAN_TEXT, CLEAN_TEXT, POISON_TEXT)


def _plausible(spec: FieldSpec, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Values a device might really send for the field, so that many payloads are accepted."""
    if spec.map:
        return st.sampled_from(list(spec.map))
    if spec.ranges:
        return st.integers(2000, 5000)
    lo = -5 if spec.min is None else int(spec.min)
    hi = 120 if spec.max is None else int(spec.max)
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "int": st.integers(lo, hi),
        "float": st.one_of(st.integers(lo, hi), st.floats(lo, hi)),
        "bool": st.booleans(),
        "string": text,
        "json": JSONISH,
        "strings": st.lists(st.sampled_from(spec.enum) if spec.enum else text, max_size=3),
        "bits": st.lists(st.booleans(), max_size=8),  # [] is refused: an empty bitmap has no type
    }
    return by_type[spec.type]


def _nest(obj: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj.setdefault(k, {}) if isinstance(obj.get(k, {}), dict) else obj
    obj[keys[-1]] = value


def _time_value(fmt: str, clean: bool) -> st.SearchStrategy[Any]:
    if fmt == "iso8601":
        good = ["2026-11-23T09:15:02.120+08:00", "2026-11-23T09:15:02Z"]
        return st.sampled_from(good if clean else [*good, "2026-11-23T09:15:02", "2026-13-01", ""])
    if fmt.startswith("epoch"):
        good_n = st.integers(0, 2**40)
        return good_n if clean else st.one_of(good_n, st.sampled_from([-1, "17953965", 2**80, 1e300]))
    good = ["2026-11-23 09:15:02", "2026-03-29 02:30:00"]
    return st.sampled_from(good if clean else [*good, "2026-11-23", "9999-12-31 23:59:59"])


@st.composite
def messages(
    draw: st.DrawFn, profiles: list[MqttProfile] | None = None, channel: str | None = None
) -> tuple[MqttProfile, str | None, bytes]:
    profile = draw(st.sampled_from(profiles or MQTT))
    name = channel or draw(st.sampled_from(sorted(profile.channels)))
    ch = profile.channels[name]
    # Half the messages are what a device might send (mostly accepted), half carry poison.
    clean = draw(st.booleans())

    def maybe_junk(good: st.SearchStrategy[Any]) -> Any:
        return draw(good if clean or draw(st.integers(0, 3)) else JSONISH)

    obj: dict[str, Any] = {}
    if profile.channel_field:
        obj[profile.channel_field] = maybe_junk(st.just(name))
    if ch.type_field:
        obj[ch.type_field] = maybe_junk(st.sampled_from(sorted(ch.types)))
    ts = ch.timestamp or profile.timestamp
    if clean or draw(st.booleans()):
        obj[ts.field] = maybe_junk(_time_value(ts.format, clean))
    if profile.seq_field and draw(st.booleans()):
        obj[profile.seq_field] = maybe_junk(st.integers(0, 2**32 - 1) if clean else NUMBER)
    for canonical, spec in ch.fields.items():
        if draw(st.integers(0, 4)):
            _nest(obj, spec.source or canonical, maybe_junk(_plausible(spec, MOSTLY_CLEAN_TEXT if clean else TEXT)))
    if ch.will and draw(st.booleans()):
        obj.update(ch.will)
    for _ in range(0 if clean else draw(st.integers(0, 2))):
        obj[draw(TEXT)] = draw(JSONISH)
    wrap = 0 if clean else draw(st.sampled_from([0, 0, 3, 50, 3000]))
    text = json.dumps(obj, ensure_ascii=clean or draw(st.booleans()))
    text = "[" * wrap + text + "]" * wrap if wrap else text
    channel = None if profile.channel_field else name
    return profile, channel, text.encode("utf-8", "surrogatepass")


def _influx_type(text: str) -> str:
    if text.startswith('"'):
        return "string"
    if text in ("true", "false"):
        return "boolean"
    return "integer" if text.endswith("i") else "float"


def _check_line(event: Event, kind: str, declared: dict[str, str]) -> None:
    line = to_line(event, "hall-a", kind)  # a PointError here fails the test: decode let it through
    line.encode("utf-8")
    assert "\n" not in line and "\r" not in line
    for key, value in event.fields.items():
        text = format_field(value)
        if text is None:
            continue  # no representation (NaN): absent, never another type
        assert _influx_type(text) == INFLUX_TYPES[declared[key]], (key, value, declared[key])
        assert f"{key}={text}" in line


@FAST
@given(messages())
def test_decode_raises_only_decode_errors_and_accepted_events_store_with_their_types(
    msg: tuple[MqttProfile, str | None, bytes],
) -> None:
    profile, channel, payload = msg
    decoder = DECODERS[profile.name]
    try:
        event = decoder.decode("dev-1", channel, payload, 1_795_396_502_000_000_000)
    except DecodeError as e:
        assert e.reason != "internal", str(e)  # a defect of ours, not the payload's fault
        return
    name = channel if channel is not None else json.loads(payload)[profile.channel_field]
    _check_line(event, profile.kind, decoder.field_types(name))


# Drawn until the first accepted message, which is returned as drawn (no shrink phase).
COVER = settings(max_examples=2200, deadline=None, derandomize=True, database=None, phases=[Phase.generate])


def _accepted_as(name: str, msg: tuple[MqttProfile, str | None, bytes]) -> bool:
    """The decoder accepts the message, as one of channel `name`."""
    p, ch, payload = msg
    try:
        DECODERS[p.name].decode("dev-1", ch, payload, 1_795_396_502_000_000_000)
    except DecodeError:
        return False
    return (ch if ch is not None else json.loads(payload)[p.channel_field]) == name


def test_the_fuzzed_messages_hold_accepted_ones_of_every_channel() -> None:
    """The property above checks the line of each accepted event: had `messages()` drawn none of a
    channel, it would pass having checked nothing of it. Each (profile, channel) is drawn on its
    own (the same way each run: derandomize), so adding a profile cannot starve another's."""
    wanted = {(p.name, c) for p in MQTT for c in p.channels}
    # A channel with many required fields (the queue's `event`) has few of its draws accepted (about
    # 1 in 10 to 1 in 15: a ticket with a lone surrogate is refused), and the draws are not the same
    # from one process to the next whatever `derandomize` says: each channel is drawn until one of
    # its messages is accepted, up to 2,200 times (the odds of none then are below 1e-40); `find`
    # stops at the first, and without its shrink phase returns it as drawn.
    seen: set[tuple[str, str]] = set()
    for profile in MQTT:
        for channel in sorted(profile.channels):
            with contextlib.suppress(NoSuchExample):
                find(messages([profile], channel), functools.partial(_accepted_as, channel), settings=COVER)
                seen.add((profile.name, channel))
    assert seen == wanted, sorted(wanted - seen)


@FAST
@given(st.sampled_from(MQTT), st.one_of(st.none(), st.text(max_size=12)), st.binary(max_size=300))
def test_arbitrary_bytes_are_decode_errors_or_events(profile: MqttProfile, channel: str | None, payload: bytes) -> None:
    try:
        DECODERS[profile.name].decode("dev-1", channel, payload, 1)
    except DecodeError as e:
        assert e.reason != "internal", str(e)


FIELD_VALUES = st.one_of(
    JSONISH,
    st.lists(st.booleans(), max_size=70),
    st.lists(TEXT, max_size=3),
    st.tuples(st.booleans()),
    st.sets(st.integers()),
    st.binary(max_size=4),
)


@FAST
@given(
    TEXT,
    TEXT,
    TEXT,
    st.integers(-(2**64), 2**64),
    st.dictionaries(TEXT, FIELD_VALUES, max_size=5),
    st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
def test_to_line_raises_only_point_errors(
    device: str, name: str, kind: str, ts: int, fields: dict[str, Any], seq: int | None
) -> None:
    try:
        line = to_line(Event(device, name, ts, fields, seq), "hall-a", kind)
    except PointError:
        return
    line.encode("utf-8")
    assert "\n" not in line


@FAST
@given(FIELD_VALUES)
def test_format_field_raises_only_point_errors(value: Any) -> None:
    try:
        text = format_field(value)
    except PointError:
        return
    if text is not None:
        assert "\n" not in text


@pytest.mark.parametrize("profile", MODBUS, ids=lambda p: p.name)
def test_modbus_plans_give_every_signal_its_declared_type(profile: ModbusProfile) -> None:
    plan = compile_plan(profile)

    @settings(max_examples=100, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        responses = [
            data.draw(
                st.lists(
                    st.integers(0, 65535) if r.table in ("input", "holding") else st.booleans(),
                    min_size=r.count,
                    max_size=r.count,
                )
            )
            for r in plan.requests
        ]
        values = plan.decode(responses)
        assert set(values) <= set(profile.signals)
        _check_line(Event("dev-1", "reading", 1, values), profile.kind, plan.field_types)

    check()
