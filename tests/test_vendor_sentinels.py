"""A vendor's "no value" markers by profile alone (issue 19): a pad's 0 for "not rated", a
sensor's 0xFFFF for "no reading". The profile declares them absent (`absent: [0]`, or `null` in
a `map`); the kind's contract decides what an event without the field is: a rating pad's `rated`
without a score is an unrated visit (counted, so 评价率 sees it), a lockbox's door event without
its slot is quarantined with the reason. check-config accepts the declarations and names a
malformed one with file, field path, code and fix.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import httpx
import pytest

from drivers.profiles.errors import DecodeError
from drivers.profiles.loader import ProfileError, find_profile, load_profile
from drivers.profiles.model import MqttProfile
from drivers.profiles.mqtt_json import MqttDecoder
from firmware_sim.modbus_bus import ModbusBus
from gateway.config.load import load_config
from gateway.domain.canonical import READING, Event
from gateway.domain.ratings import from_fields, summarize
from gateway.kinds.base import Kind
from gateway.kinds.contract import compile_contract
from gateway.kinds.registry import KINDS, register
from gateway.runtime import start_gateway
from gateway.store.points import to_line
from tests.servers import InfluxDB, Mosquitto, free_port
from tests.test_new_kind import ClimateUnit
from tests.waits import until

CASES = Path(__file__).parent / "profile_cases"
CIVIC = CASES / "profiles" / "civic-rating.yaml"
TOKEN = "sentinels-technician-token-0123456789"
SITE = "hall-s"


def _civic() -> MqttProfile:
    profile = load_profile(CIVIC)
    assert isinstance(profile, MqttProfile)
    return profile


def _visit(seq: int, grade: int, ts: int, **extra: Any) -> bytes:
    body = {"seq": seq, "ts": ts, "bizId": f"320111-2026-{seq:07d}", "win": "W07", "staff": "S0231", "grade": grade}
    return json.dumps({**body, **extra}).encode()


# -- the kind's contract, through the profile and the ratings domain ---------------------------


def test_a_pads_no_score_is_an_unrated_visit_in_the_figures() -> None:
    """Grade 0 was out of range (quarantined: every unrated visit lost); now the profile leaves the
    score out, the rating pad's contract names the event unrated, and the figures count it."""
    decoder = MqttDecoder(_civic())
    contract = compile_contract(KINDS["rating_pad"])
    assert contract is not None
    ratings, lines = [], []
    for seq, grade in enumerate((5, 0, 4, 0, 0, 3), start=1):
        event = contract(decoder.decode("pad-1", "event", _visit(seq, grade, 1795396500 + seq), 0))
        lines.append(to_line(event, SITE, "rating_pad"))
        ratings.append(from_fields(event.name == "rated", event.device, event.seq, event.ts_ns, "d", event.fields, "z"))
    figures = summarize(ratings)[""].out()
    assert (figures["rated"], figures["unrated"], figures["rating_rate"]) == (3, 3, 0.5)
    assert figures["scores"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1} and figures["mean"] == 4.0
    # The stored line: the unrated visit under type=unrated, with no score field at all (not 0,
    # not a null, not a string: the field keeps one InfluxDB type).
    unrated = lines[1]
    assert ",type=unrated" in unrated and "score" not in unrated, unrated
    assert "score=5i" in lines[0] and ",type=rated" in lines[0]


def test_a_rated_event_without_a_score_counts_as_unrated_in_the_domain_too() -> None:
    """The domain does not count a score it does not have: rating rate and mean stay true even for
    an event the kind's contract did not see (a replay of older records, another projection)."""
    r = from_fields(True, "pad-1", 7, 10, "d", {"window": "W07", "case_id": "c-1"}, "z")
    assert (r.rated, r.score, r.no_case_id, r.key) == (False, None, False, "unrated:pad-1#7@10")
    out = summarize([r])[""].out()
    assert (out["rated"], out["unrated"], out["mean"]) == (0, 1, None)


def test_a_required_signal_left_out_is_quarantined_with_the_reason(tmp_path: Path) -> None:
    """A lockbox vendor whose 0 means "no slot": the profile may say so, but a door event without its
    slot says nothing, so the lockbox's contract refuses it (missing_field), naming the field."""
    (tmp_path / "slotless.yaml").write_text(
        "name: slotless\nkind: lockbox\nprotocol: mqtt\ntopic_kind: lockbox\n"
        "channels:\n  event:\n    type_field: type\n    types: {door_open: door_open, door_closed: door_closed}\n"
        "    fields: {slot: {type: int, min: 1, max: 48, absent: [0]}}\n"
    )
    decoder = MqttDecoder(find_profile("slotless", [tmp_path]))
    contract = compile_contract(KINDS["lockbox"])
    assert contract is not None
    payload = b'{"seq":1,"ts":"2026-11-23T09:15:02+08:00","type":"door_open","slot":%d}'
    assert contract(decoder.decode("lb-1", "event", payload % 3, 0)).fields == {"slot": 3}
    event = decoder.decode("lb-1", "event", payload % 0, 0)
    assert event.fields == {}  # the profile left it out ...
    with pytest.raises(DecodeError, match=r"door_open: missing slot, which a lockbox event needs") as err:
        contract(event)  # ... and the kind refuses it
    assert err.value.reason == "missing_field"


def test_kinds_without_rules_cost_nothing_per_message() -> None:
    assert compile_contract(KINDS["people_counter"]) is None
    contract = compile_contract(KINDS["attendance"])
    assert contract is not None
    with pytest.raises(DecodeError, match="missing staff_id"):
        contract(Event("att-1", "punch", 1, {"direction": "in"}, 1))


# -- check-config: the declarations accepted, a malformed one named ------------------------------

PAD = "name: {name}\nkind: rating_pad\nprotocol: mqtt\ntopic_kind: rating\nchannels:\n  event:\n    event: rated\n"
COUNTER = "name: {name}\nkind: people_counter\nprotocol: modbus\nsignals:\n"
MALFORMED = {
    "empty": (
        PAD + "    fields: {{score: {{type: int, absent: []}}}}\n",
        "channels.event.fields.score: [absent_empty] absent 为空",
        "如 absent: [0]",
    ),
    "nan": (
        PAD + "    fields: {{score: {{type: float, map: {{.nan: null}}}}}}\n",
        "channels.event.fields.score: [absent_not_finite] nan 不能作为无值标记",
        "写厂商实际发送的数值",
    ),
    "twice": (
        PAD + "    fields: {{score: {{type: int, map: {{100: 5, 0: null}}, absent: [0]}}}}\n",
        "channels.event.fields.score: [absent_in_map] 0 同时出现在 absent 和 map 中",
        "只保留一处",
    ),
    "command": (
        PAD + "    fields: {{score: int}}\n"
        "commands: {{prompt: {{params: {{case_id: {{type: string, absent: ['']}}}},"
        " payload: {{id: '{{{{id}}}}', case: '{{{{case_id}}}}'}}}}}}\n",
        "commands.prompt: [absent_in_command] 命令参数 case_id 不能声明无值",
        "删掉它的 absent",
    ),
    "signed": (
        COUNTER
        + "  in_total: {{table: input, address: 0, type: uint32}}\n"
        + "  out_total: {{table: input, address: 2, type: uint32}}\n"
        + "  temp: {{table: input, address: 4, type: int16, absent: [0xFFFF]}}\n",
        "signals.temp: [absent_out_of_range] 65535 超出 int16 的取值范围 -32768..32767",
        "0xFFFF 写作 -1",
    ),
    "bits": (
        COUNTER
        + "  in_total: {{table: input, address: 0, type: uint32}}\n"
        + "  out_total: {{table: input, address: 2, type: uint32}}\n"
        + "  door: {{table: coil, address: 0, type: bool, absent: [1]}}\n",
        "signals.door: [absent_not_numeric]",
        "删掉它",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_declaration_names_the_field_the_code_and_the_fix(tmp_path: Path, name: str) -> None:
    text, where, fix = MALFORMED[name]
    (tmp_path / f"{name}.yaml").write_text(text.format(name=name))
    with pytest.raises(ProfileError) as err:
        load_profile(tmp_path / f"{name}.yaml")
    assert f"{name}.yaml: {where}" in str(err.value) and fix in str(err.value), str(err.value)


def _hall(folder: Path, devices: list[str], extra: str = "") -> Path:
    hall = folder / "hall.yaml"
    hall.write_text(f"site: {SITE}\nzones: [{{id: windows, capacity: 100}}]\n{extra}devices:\n" + "".join(devices))
    return hall


def _check_config(hall: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway.cli", "check-config", str(hall)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_check_config_accepts_the_mapping_and_refuses_each_malformed_one(tmp_path: Path) -> None:
    """`map: {0: null}` was refused ("None is not of type int"); now it and `absent:` pass, and each
    malformed declaration is one line: the profile file, the field path, the code, the fix."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        (folder / "profiles").mkdir(parents=True)
    shutil.copy(CIVIC, good / "profiles")
    shutil.copy(CASES / "profiles" / "beacon-rating.yaml", good / "profiles")  # `0: null` in its score map
    shutil.copy(CASES / "profiles" / "vigil-counter.yaml", good / "profiles")
    ok = _check_config(
        _hall(
            good,
            [
                "  - {id: pad-1, kind: rating_pad, profile: civic-rating, window: W07, zone: windows}\n",
                "  - {id: pad-2, kind: rating_pad, profile: beacon-rating, window: W08, zone: windows}\n",
                "  - {id: pc-1, kind: people_counter, profile: vigil-counter, zone: windows,"
                " modbus: {host: 127.0.0.1, port: 1502}}\n",
            ],
        )
    )
    assert ok.returncode == 0 and "3 台设备" in ok.stdout, ok.stdout + ok.stderr
    devices = []
    for n, (name, (text, _, _)) in enumerate(sorted(MALFORMED.items())):
        (bad / "profiles" / f"{name}.yaml").write_text(text.format(name=name))
        kind = "rating_pad" if text.startswith(PAD[:20]) else "people_counter"
        where = "window: W01, zone: windows" if kind == "rating_pad" else "zone: windows, modbus: {host: h, port: 1}"
        devices.append(f"  - {{id: d{n}, kind: {kind}, profile: {name}, {where}}}\n")
    refused = _check_config(_hall(bad, devices))
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1 and "Traceback" not in out, out
    assert f"{len(MALFORMED)} 处错误" in out, out
    for n, (name, (_, where, fix)) in enumerate(sorted(MALFORMED.items())):
        line = next((x for x in out.splitlines() if f"devices[{n}]" in x), "")
        assert f"profiles/{name}.yaml: {where}" in line and fix in line, (name, out)


# -- end to end: a vendor pad on a real broker, the gateway, its API and InfluxDB ---------------


def test_unrated_visits_of_a_vendor_pad_end_as_unrated(
    mosquitto: Mosquitto, influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_TECHNICIAN", TOKEN)
    (tmp_path / "profiles").mkdir()
    shutil.copy(CIVIC, tmp_path / "profiles")
    hall = _hall(
        tmp_path,
        ["  - {id: pad-1, kind: rating_pad, profile: civic-rating, window: W07, zone: windows}\n"],
        extra=(
            f"api: {{port: {free_port()}, tokens: [{{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}]}}\n"
            f"broker: {{host: 127.0.0.1, port: {mosquitto.port}}}\n"
            f"store: {{path: {tmp_path}/outbox.sqlite, flush_interval_s: 0.2}}\n"
            f'influx: {{api: v1, url: "{influxdb.url}", database: hallgate}}\n'
        ),
    )
    asyncio.run(_vendor_pad(hall, mosquitto, influxdb))


async def _vendor_pad(hall: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    cfg = load_config(hall)
    ts = int(time.time()) - 60
    day = datetime.fromtimestamp(ts, ZoneInfo(cfg.timezone)).date().isoformat()
    visits = [_visit(seq, grade, ts + seq) for seq, grade in enumerate((5, 0, 4, 0, 3), start=1)]
    poison = [_visit(6, 7, ts + 6), _visit(7, 3, ts + 7, win="--")]  # out of range; "no window"
    topic = f"hall/{SITE}/rating/pad-1/event"
    base = f"http://127.0.0.1:{cfg.api.port}"
    async with (
        start_gateway(cfg),
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="civic-pad-1") as pad:
            for payload in visits + poison:
                await pad.publish(topic, payload, qos=1)

        async def figures() -> dict[str, Any] | None:
            r = await http.get("/api/v1/ratings/summary", params={"date": day, "by": "window"})
            groups = r.json()["groups"] if r.status_code == 200 else []
            g = next((g for g in groups if g["key"] == "W07"), None)
            return g if g is not None and g["rated"] + g["unrated"] == len(visits) else None

        async def quarantined() -> list[str] | None:
            r = await http.get("/api/v1/quarantine", params={"device": "pad-1"})
            reasons = sorted(q["reason"] for q in r.json()) if r.status_code == 200 else []
            return reasons if len(reasons) == len(poison) else None

        g = await until(figures, timeout=30, what="the pad's five visits counted")
        assert (g["rated"], g["unrated"], g["rating_rate"], g["mean"]) == (3, 2, 0.6, 4.0), g
        assert await until(quarantined, what="the two poison messages set aside") == ["missing_field", "out_of_range"]
        stored = await asyncio.to_thread(influxdb.wait_count, "hallgate", "rating_pad_event", len(visits), "seq", 60)
        assert stored == len(visits)
    unrated = influxdb.query("""SELECT count("seq") FROM "rating_pad_event" WHERE "type" = 'unrated'""", "hallgate")
    assert unrated["results"][0]["series"][0]["values"][0][1] == 2, unrated
    no_score = influxdb.query("""SELECT "score" FROM "rating_pad_event" WHERE "type" = 'unrated'""", "hallgate")
    assert "series" not in no_score["results"][0], no_score  # no score on an unrated visit, not even null
    keys = influxdb.query('SHOW FIELD KEYS FROM "rating_pad_event"', "hallgate")["results"][0]["series"][0]["values"]
    assert ["score", "integer"] in keys, keys
    scores = influxdb.query("""SELECT "score" FROM "rating_pad_event" WHERE "type" = 'rated'""", "hallgate")
    assert sorted(v[1] for v in scores["results"][0]["series"][0]["values"]) == [3, 4, 5], scores


# -- a Modbus kind whose contract requires a signal, over a real Modbus TCP server --------------


PROBE = Kind(
    name="probe_sensor",
    description="temperature probe",
    signals={READING: frozenset({"temperature_c"})},
    required={READING: frozenset({"temperature_c"})},  # a probe reading without its temperature is nothing
    info=frozenset({"temperature_c", "humidity_pct"}),
)
PROBE_PROFILE = """name: vigil-probe
kind: probe_sensor
protocol: modbus
signals:
  temperature_c: {table: input, address: 0, type: int16, scale: 0.1, absent: [-32768]}
  humidity_pct: {table: input, address: 1, type: uint16, absent: [0xFFFF]}
"""


@pytest.fixture
def probe_kind() -> Iterator[Kind]:
    register(PROBE)
    yield PROBE
    del KINDS[PROBE.name]


def test_a_modbus_no_reading_is_left_out_or_quarantined_as_the_kind_says(
    probe_kind: Kind, mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0xFFFF humidity: the reading is stored without it (never 65535 %); 0x8000 temperature, which
    the kind requires: the reading is set aside, counted against the device with the reason."""
    monkeypatch.setenv("HALLGATE_TOKEN_TECHNICIAN", TOKEN)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "vigil-probe.yaml").write_text(PROBE_PROFILE)
    port = free_port()
    hall = _hall(
        tmp_path,
        [
            "  - {id: probe-1, kind: probe_sensor, profile: vigil-probe, poll_interval_s: 0.1,"
            f" modbus: {{host: 127.0.0.1, port: {port}}}}}\n"
        ],
        extra=(
            f"api: {{port: {free_port()}, tokens: [{{role: technician, env: HALLGATE_TOKEN_TECHNICIAN}}]}}\n"
            f"broker: {{host: 127.0.0.1, port: {mosquitto.port}}}\n"
            f"store: {{path: {tmp_path}/outbox.sqlite}}\n"
        ),
    )
    asyncio.run(_probe(load_config(hall), port))


async def _probe(cfg: Any, port: int) -> None:
    unit = ClimateUnit(1)  # input registers 0 (temperature, int16) and 1 (humidity, uint16)
    unit.registers[1] = 0xFFFF  # the humidity sensor has no reading
    async with (
        ModbusBus("127.0.0.1", port, [unit]),
        start_gateway(cfg) as gw,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http,
    ):

        async def device(check: Any) -> dict[str, Any] | None:
            d = (await http.get("/api/v1/devices/probe-1")).json()
            return d if check(d) else None

        d = await until(lambda: device(lambda d: d["info"].get("temperature_c") == 21.5), what="a first reading")
        assert "humidity_pct" not in d["info"], d["info"]
        lines = [x for x in gw.view.outbox.peek(100_000).lines if x.startswith("probe_sensor,")]
        assert lines and all(" temperature_c=21.5 " in x and "humidity" not in x for x in lines), lines[:3]
        assert d["counters"].get("bad_payloads", 0) == 0

        unit.registers[:] = [0x8000, 45]  # the probe lost its temperature: the kind refuses the reading
        d = await until(
            lambda: device(lambda d: d["counters"].get("quarantined_missing_field", 0) >= 3), what="set aside"
        )
        assert "missing temperature_c, which a probe_sensor event needs" in d["last_error"], d["last_error"]
        assert gw.view.quarantine_counts().get("missing_field", 0) >= 3
        assert not [x for x in gw.view.outbox.peek(100_000).lines if x.startswith("probe_sensor,") and "humidity" in x]
