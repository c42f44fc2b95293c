"""Profiles as data: each case in tests/profile_cases is a wire dump (or a command) in and canonical output out.

Case kinds, told apart by their keys (all name a `profile`):
- MQTT decode: `channel` (null when the payload names it), `payload`, optional `received_ns` and
  `hall_tz`; `expect: {name, seq, ts_ns, fields}` or `error` (a regex) with its `reason` code.
- Modbus read: `registers` (one response per request), `expect_requests`, `expect_values`, and
  optionally `expect_wraps`.
- Command: `command: {op, params, id}`; `expect_wire` (MQTT: channel, payload, ack; Modbus: writes
  as [table, address, value], timeout_s, and `checks`: read-back values -> verdict) or `error`.
- Topics: `topics: {device, site}`, `expect_topics` and optionally `expect_command_topic`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from drivers.profiles.commands import encode_modbus_command, encode_mqtt_command
from drivers.profiles.errors import REASONS, CommandError
from drivers.profiles.loader import ProfileError, find_profile, load_profile
from drivers.profiles.modbus_map import compile_plan
from drivers.profiles.model import ModbusProfile, MqttProfile
from drivers.profiles.mqtt_json import DecodeError, MqttDecoder, parse_iso8601_ns
from gateway.config.load import DEFAULT_PROFILES_DIR

CASES = Path(__file__).parent / "profile_cases"
DIRS = [CASES / "profiles", DEFAULT_PROFILES_DIR]
ALL_CASES = sorted(CASES.glob("*.yaml"))


def _mqtt(name: str) -> MqttProfile:
    profile = find_profile(name, DIRS)
    assert isinstance(profile, MqttProfile)
    return profile


def _command_case(profile: MqttProfile | ModbusProfile, spec: dict[str, Any]) -> None:
    cmd = spec["command"]
    if isinstance(profile, MqttProfile):

        def run() -> Any:
            return encode_mqtt_command(profile, cmd["op"], cmd["params"], cmd["id"])
    else:

        def run() -> Any:
            return encode_modbus_command(profile, cmd["op"], cmd["params"])

    if "error" in spec:
        with pytest.raises(CommandError, match=spec["error"]):
            run()
        return
    wire, expect = run(), spec["expect_wire"]
    if isinstance(profile, MqttProfile):
        channel, payload = wire
        assert channel == expect["channel"]
        assert json.loads(payload) == expect["payload"]
        assert wire.ack is not None and wire.ack.model_dump() == expect["ack"]
        return
    assert [[w.table, w.address, w.value] for w in wire.writes] == expect["writes"]
    assert wire.confirm is not None and wire.confirm.timeout_s == expect["timeout_s"]
    for check in expect["checks"]:
        assert wire.confirm.check(check["values"]) == check["verdict"], check


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda p: p.stem)
def test_profile_case(case: Path) -> None:
    spec = yaml.safe_load(case.read_text())
    profile = find_profile(spec["profile"], DIRS)
    if "command" in spec:
        _command_case(profile, spec)
        return
    if isinstance(profile, ModbusProfile):
        plan = compile_plan(profile)
        assert [[r.table, r.address, r.count] for r in plan.requests] == spec["expect_requests"]
        assert plan.decode(spec["registers"]) == spec["expect_values"]
        if "expect_wraps" in spec:
            assert plan.wraps == spec["expect_wraps"]
        return
    decoder = MqttDecoder(profile, hall_tz=spec.get("hall_tz", "UTC"))
    if "topics" in spec:
        where = spec["topics"]
        assert decoder.topics(where["device"], where["site"]) == spec["expect_topics"]
        if "expect_command_topic" in spec:
            assert decoder.command_topic(where["device"], where["site"], "down") == spec["expect_command_topic"]
        return
    payload = spec["payload"].encode("utf-8", "surrogatepass")
    received_ns = spec.get("received_ns", 0)
    if "error" in spec:
        with pytest.raises(DecodeError, match=spec["error"]) as err:
            decoder.decode("dev-1", spec["channel"], payload, received_ns)
        assert err.value.reason == spec["reason"]
        return
    event = decoder.decode("dev-1", spec["channel"], payload, received_ns)
    expect = spec["expect"]
    assert (event.name, event.seq, event.ts_ns, event.fields) == (
        expect["name"],
        expect["seq"],
        expect["ts_ns"],
        expect["fields"],
    )


def test_cases_cover_every_kind_of_case_and_every_test_profile() -> None:
    specs = [yaml.safe_load(p.read_text()) for p in ALL_CASES]
    assert {"command", "topics", "registers", "payload"} <= {k for s in specs for k in s}
    assert {p.stem for p in (CASES / "profiles").glob("*.yaml")} <= {s["profile"] for s in specs}
    assert {s["reason"] for s in specs if "reason" in s} <= set(REASONS)


def test_every_shipped_profile_loads_and_is_named_after_its_file() -> None:
    files = sorted(DEFAULT_PROFILES_DIR.glob("*.yaml"))
    assert {p.stem for p in files} >= {
        "ref-rating-pad",
        "ref-lockbox",
        "ref-attendance",
        "ref-pickup-locker",
        "ref-people-counter",
    }
    for path in files:
        assert load_profile(path).name == path.stem


def test_bad_profile_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "name: broken\nkind: people_counter\nprotocol: modbus\nsignals:\n"
        "  x: {table: discrete, address: 0, type: float32}\n"
    )
    with pytest.raises(ProfileError, match=r"broken.yaml: .*signals.x.*不适用于 discrete 表"):
        find_profile("broken", [tmp_path])


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("kind: Rating-Pad", "kind"),
        ("channels: {e: {event: x, fields: {fw: fw}}}", "'fw' 不是字段类型"),
        ("channels: {e: {event: x, fields: {s: {type: int, map: {a: high}}}}}", "'high' 不是 int 类型"),
        ("timestamp: {format: '%Y-%m-%d', timezone: Mars/Olympus}", "不是 IANA 时区"),
        ("timestamp: {format: epoch_fortnights}", "strptime 格式"),
        ("topic: 'x/{device}/{kind}/{channel}'", "未知的占位符"),
        ("topic: 'x/{site}/{channel}'", "须包含 {device}"),
        ("commands: {go: {payload: {op: go, n: '{n}'}}}", "不是 params 中的参数"),
        ("commands: {go: {params: {n: int}, payload: {op: go, n: 'x{n}'}}}", "须是整个取值"),
        (
            "channels: {e: {event: x, fields: {fw: {source: ver}}}}",
            r"fields\.fw\.type: 缺少必填字段：请补上",
        ),
        ("channels: {e: {event: x, fields: {n: {type: string, min: 1}}}}", "min/max 需要 int 或 float 类型"),
        ("channels: {e: {event: x, time: sometimes, fields: {n: int}}}", "time"),
        ("{channel_field: t, topic: 'v/{device}', commands: {go: {payload: {op: go, id: '{id}'}}}}", "command_topic"),
        ("commands: {go: {payload: {op: go, id: '{id}'}, ack: {channel: nope}}}", "不是通道"),
        ("commands: {go: {payload: {op: go, id: '{id}'}, ack: {channel: status}}}", "'id' 不是通道 status 的字段"),
    ],
)
def test_profile_mistakes_are_named_at_load(tmp_path: Path, snippet: str, message: str) -> None:
    base = {
        "name": "p",
        "kind": "rating_pad",
        "protocol": "mqtt",
        "topic_kind": "rating",
        "channels": {"status": {"event": "status", "fields": {"fw": "string"}}},
    }
    base.update(yaml.safe_load(snippet))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(base))
    with pytest.raises(ProfileError, match=message):
        load_profile(tmp_path / "p.yaml")


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        ("{table: input, address: 0, type: int16, counter: true}", "计数器是无符号整数"),
        ("{table: input, address: 0, type: uint16, scale: 0.1, wrap: 1000}", "计数器是无符号整数"),
        ("{table: input, address: 0, type: string}", "需要 count"),
        ("{table: input, address: 0, type: uint32, count: 2}", "count 只用于 bits 和 string"),
        ("{table: coil, address: 0, type: bool, bit: 3}", "bit 用于从寄存器中取一位"),
        ("{table: input, address: 0, type: bits, count: 4, scale: 2}", "需要数值类型"),
        ("{table: input, address: 0, type: uint16, byte_order: XYZW}", "byte_order"),
    ],
)
def test_modbus_signal_mistakes_are_named_at_load(tmp_path: Path, signal: str, message: str) -> None:
    (tmp_path / "m.yaml").write_text(f"name: m\nkind: people_counter\nprotocol: modbus\nsignals: {{x: {signal}}}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(tmp_path / "m.yaml")


def test_modbus_command_mistakes_are_named_at_load(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "name: m\nkind: pickup_locker\nprotocol: modbus\nsignals: {x: {table: input, address: 0}}\n"
        "commands: {go: {writes: [{table: coil, address: 0, index: door, value: true}],"
        " confirm: {when: [{signal: y, equals: 1}]}}}\n"
    )
    with pytest.raises(ProfileError, match=r"\['door'\] 不是 params 中的参数"):
        load_profile(tmp_path / "m.yaml")


def test_kind_is_an_open_lowercase_identifier(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        "name: q\nkind: queue_display\nprotocol: modbus\nsignals: {n: {table: input, address: 0}}\n"
    )
    assert load_profile(tmp_path / "q.yaml").kind == "queue_display"


def test_unknown_channel_is_a_decode_error() -> None:
    decoder = MqttDecoder(_mqtt("ref-rating-pad"))
    with pytest.raises(DecodeError, match="channel 'cmd'") as err:
        decoder.decode("d", "cmd", b"{}", 0)
    assert err.value.reason == "unknown_channel"
    with pytest.raises(DecodeError, match="takes the channel from the topic"):
        decoder.decode("d", None, b"{}", 0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "too_deep"),  # RecursionError inside json.loads
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "too_deep"),
        (b'{"ts":"' + b"x" * 70_000 + b'"}', "too_large"),
        (b"\xff\xfe{}", "bad_text"),
        (b'{"ts":"2026-11-23T09:15:02+08:00","rssi":1e999}', "not_json"),
        (b'{"ts":"2026-11-23T09:15:02+08:00","rssi":' + b"9" * 5000 + b"}", "not_json"),
        (b'{"ts":"2026-11-23T09:15:02+08:00","rssi":' + b"9" * 30 + b"}", "out_of_range"),
        (b'{"ts":"2026-11-23T09:15:02+08:00","rssi":-61.5}', "bad_type"),
        (b'{"ts":"2026-11-23T09:15:02+08:00"}', "missing_field"),
        (b'{"ts":"9999-99-99"}', "bad_time"),
        (b'{"ts":12,"rssi":1}', "bad_time"),
    ],
)
def test_poison_payloads_are_decode_errors_with_a_reason(payload: bytes, reason: str) -> None:
    decoder = MqttDecoder(_mqtt("ref-rating-pad"))
    with pytest.raises(DecodeError) as err:
        decoder.decode("d", "heartbeat", payload, 0)
    assert err.value.reason == reason, str(err.value)


def test_float_fields_are_always_floats_and_ints_accept_integral_floats() -> None:
    profile = _mqtt("ref-rating-pad")
    channels = dict(profile.channels)
    hb = channels["heartbeat"].model_copy(
        update={
            "fields": {
                **channels["heartbeat"].fields,
                "temp": profile.channels["heartbeat"].fields["rssi"].model_copy(update={"type": "float"}),
            }
        }
    )
    channels["heartbeat"] = hb
    decoder = MqttDecoder(profile.model_copy(update={"channels": channels}))
    event = decoder.decode("d", "heartbeat", b'{"ts":"2026-11-23T09:15:02+08:00","temp":87,"rssi":-61.0}', 0)
    assert event.fields == {"temp": 87.0, "rssi": -61}
    assert type(event.fields["temp"]) is float and type(event.fields["rssi"]) is int


def test_naive_times_are_read_in_the_hall_zone_unless_the_profile_names_one() -> None:
    profile = _mqtt("beacon-rating")
    hello = profile.channels["hello"]
    assert hello.timestamp is not None
    no_zone = hello.model_copy(update={"timestamp": hello.timestamp.model_copy(update={"timezone": None})})
    p = profile.model_copy(update={"channels": {**profile.channels, "hello": no_zone}})
    payload = b'{"msgType":"hello","at":"2026-07-01 12:00:00","state":1}'
    berlin = MqttDecoder(p, hall_tz="Europe/Berlin").decode("d", None, payload, 0).ts_ns  # CEST, UTC+2
    shanghai = MqttDecoder(p, hall_tz="Asia/Shanghai").decode("d", None, payload, 0).ts_ns  # UTC+8
    assert berlin - shanghai == 6 * 3600 * 10**9
    assert MqttDecoder(profile, hall_tz="Europe/Berlin").decode("d", None, payload, 0).ts_ns == shanghai


@pytest.mark.parametrize(
    ("fmt", "value", "ns"),
    [
        ("epoch_s", 1795396502, 1795396502 * 10**9),
        ("epoch_s", 1795396502.25, 1795396502_250_000_000),
        ("epoch_ms", 1795396502120, 1795396502_120_000_000),
        ("epoch_ms", "1795396502120", 1795396502_120_000_000),
        ("epoch_us", 1795396502120003, 1795396502_120_003_000),
        ("epoch_ns", 1795396502120003004, 1795396502_120_003_004),
        ("%d/%m/%Y %H:%M:%S%z", "23/11/2026 09:15:02+0800", 1795396502 * 10**9),
    ],
)
def test_time_formats(fmt: str, value: Any, ns: int) -> None:
    profile = _mqtt("beacon-rating")
    beat = profile.channels["beat"].model_copy(
        update={"timestamp": profile.timestamp.model_copy(update={"format": fmt})}
    )
    decoder = MqttDecoder(profile.model_copy(update={"channels": {**profile.channels, "beat": beat}}))
    payload = json.dumps({"msgType": "beat", "time": value, "rssi": -1}).encode()
    assert decoder.decode("d", None, payload, 0).ts_ns == ns


def test_topics_under_a_configured_base_and_liveness() -> None:
    decoder = MqttDecoder(_mqtt("ref-lockbox"))
    assert decoder.topics("box-1", "s", base="legacy/box-1") == {
        f"legacy/box-1/{c}": c for c in ("status", "heartbeat", "event", "ack")
    }
    assert decoder.command_topic("box-1", "s", "cmd") == "hall/s/lockbox/box-1/cmd"
    assert _mqtt("ref-lockbox").topic_base("s", "box-1") == "hall/s/lockbox/box-1"
    assert decoder.liveness.heartbeat_s == 30 and decoder.liveness.offline_after_s == 90
    beacon = MqttDecoder(_mqtt("beacon-rating"))
    assert beacon.topics("pad-1", "s", base="b/pad-1/up") == {"b/pad-1/up": None}
    assert beacon.liveness.offline_after_s == 120


def test_command_ids_and_parameters_are_checked() -> None:
    lockbox = _mqtt("ref-lockbox")
    one_to_64, surrogate = "a command id is 1-64 characters", "unlock.id: text with a lone surrogate"
    for bad_id, says in (("", one_to_64), ("x" * 65, one_to_64), ("a\ud800", surrogate)):
        with pytest.raises(CommandError, match=says):
            encode_mqtt_command(lockbox, "unlock", {"slot": 1}, bad_id)
    with pytest.raises(CommandError, match="parameter slot is missing"):
        encode_mqtt_command(lockbox, "unlock", {}, "c-1")
    with pytest.raises(CommandError, match="unknown parameters"):
        encode_mqtt_command(lockbox, "unlock", {"slot": 1, "force": True}, "c-1")
    with pytest.raises(CommandError, match="is not an integer"):
        encode_mqtt_command(lockbox, "unlock", {"slot": True}, "c-1")


def test_modbus_limits_merge_requests_within_pdu_limits() -> None:
    profile = find_profile("ref-people-counter", DIRS)
    assert isinstance(profile, ModbusProfile)
    signals = {f"s{i}": {"table": "holding", "address": i * 2, "type": "uint32"} for i in range(100)}
    big = ModbusProfile.model_validate({**profile.model_dump(exclude={"commands"}), "signals": signals})
    assert [(r.address, r.count) for r in compile_plan(big).requests] == [(0, 124), (124, 76)]


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), st.integers(-12 * 60, 14 * 60))
def test_iso8601_times_convert_to_the_exact_nanosecond(moment: datetime, offset_min: int) -> None:
    dt = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    exact = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
    assert parse_iso8601_ns(dt.isoformat()) == exact


def test_an_absurd_parameter_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="too large to show"):
        encode_mqtt_command(_mqtt("ref-lockbox"), "unlock", {"slot": 10**5000}, "c-1")


def test_value_maps_keep_json_types_apart_and_bitmaps_are_never_empty() -> None:
    from drivers.profiles.values import compile_value

    online = compile_value("online", "bool", vmap={1: True, 0: False, "yes": True})
    assert online(1) is True and online(1.0) is True and online("yes") is True
    for wrong in (True, "1", None, [1]):
        with pytest.raises(DecodeError) as err:
            online(wrong)
        assert err.value.reason == "unknown_value"
    level = compile_value("level", "string", ranges=[(None, 10, "low"), (10, None, "high")])
    assert (level(9.99), level(10)) == ("low", "high")
    with pytest.raises(DecodeError, match="not a number to place in a range"):
        level(True)
    doors = compile_value("doors", "bits")
    assert doors([True, False]) == [True, False]
    with pytest.raises(DecodeError, match="empty list"):
        doors([])


def test_a_full_lockbox_snapshot_fits_its_field() -> None:
    """48 slots of a snapshot ack are longer than the default string limit: the field's own
    `max_length` allows them (a quarantined snapshot left every slot unknown)."""
    decoder = MqttDecoder(find_profile("ref-lockbox", DIRS))
    slots = [{"slot": n, "locked": True, "door": "closed", "phone": n % 2 == 0} for n in range(1, 49)]
    payload = json.dumps({"id": "snap-1", "ok": True, "slots": slots}).encode()
    event = decoder.decode("lb-1", "ack", payload, 1)
    assert json.loads(event.fields["slots"]) == slots
