"""A day in the hall from a scenario: a seeded plan (pure), then played against Mosquitto."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from firmware_sim.cli import main
from firmware_sim.scenario import ScenarioError, load_scenario, plan_day
from tests.servers import Mosquitto
from tests.sim_support import MqttWatcher, free_ports, on

ROOT = Path(__file__).resolve().parents[1]
DAY = ROOT / "firmware_sim" / "templates" / "day.yaml"
DEVICES = {
    "rp-w01": "rating_pad",
    "rp-w02": "rating_pad",
    "rp-w03": "rating_pad",
    "lb-1": "lockbox",
    "att-1": "attendance",
    "pc-1": "people_counter",
    "lk-1": "pickup_locker",
}
WINDOWS = {"rp-w01": "W01", "rp-w02": "W02", "rp-w03": "W03"}


def test_plan_is_seeded_with_a_morning_peak_and_a_lunch_dip() -> None:
    sc = load_scenario(DAY)
    first, again = plan_day(sc, DEVICES, WINDOWS), plan_day(sc, DEVICES, WINDOWS)
    assert [(a.at_s, a.device, a.op, a.args) for a in first] == [(a.at_s, a.device, a.op, a.args) for a in again]
    other = plan_day(load_scenario({**_raw(), "seed": 43}), DEVICES, WINDOWS)
    assert [a.at_s for a in other] != [a.at_s for a in first]
    start = sc.start_min * 60
    arrivals = Counter(int((a.at_s + start) // 3600) for a in first if a.op == "people_in")
    assert arrivals[10] > arrivals[9] and arrivals[10] > arrivals[12] * 2 and arrivals[13] > arrivals[12]
    scores = Counter(a.args[1] for a in first if a.op == "rate")
    assert scores[5] / sum(scores.values()) > 0.85  # the mix: 95 % score 5
    # B covers W01 10:30-11:30: ratings finished then are B's
    by_staff = {a.args[0] for a in first if a.op == "rate" and a.device == "rp-w01"}
    assert by_staff == {"S0001", "S0101"}
    punches = [a.args for a in first if a.op == "punch"]
    assert ("S0101", "in") in punches and ("S0003", "in") in punches  # W03 has defaults A S0003
    assert sum(1 for a in first if a.op == "deposit_phone") >= 2  # phones locked away in the morning
    assert Counter(a.op for a in first)["deposit_item"] == 20
    assert [a.args[0]["fault"] for a in first if a.op == "fault"] == ["jam", "lens_blocked"]
    assert {a.args[2] for a in first if a.op == "rate" and a.device == "rp-w02"} == {"社保卡补办", "公积金提取"}


def _raw() -> dict[str, object]:
    import yaml

    return yaml.safe_load(DAY.read_text())


def test_scenario_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="unknown keys \\['colour'\\]"):
        load_scenario({"colour": 1})
    with pytest.raises(ScenarioError, match=r"day\.open: expected HH:MM"):
        load_scenario({"day": {"open": "nine"}})
    with pytest.raises(ScenarioError, match="faults\\[0\\]: needs `at: HH:MM`"):
        load_scenario({"faults": [{"fault": "jam"}]})


def test_cli_plays_a_morning_fast(mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hall = tmp_path / "hall.yaml"
    port = free_ports(1)
    hall.write_text(
        "site: sc-hall\ndevices:\n"
        "  - {id: rp-w01, kind: rating_pad, window: W01}\n"
        "  - {id: rp-w02, kind: rating_pad, window: W02}\n"
        "  - {id: lb-1, kind: lockbox, slots: 12}\n"
        "  - {id: att-1, kind: attendance}\n"
        f"  - {{id: pc-1, kind: people_counter, modbus: {{host: 127.0.0.1, port: {port}, unit: 1}}}}\n"
    )
    day = tmp_path / "day.yaml"
    day.write_text(
        json.dumps(
            {
                "hall": "hall.yaml",
                "seed": 5,
                "speed": 3600,
                "day": {"open": "09:00", "close": "11:00", "start": "08:30", "end": "11:00"},
                "arrivals": {"9": 40, "10": 60},
                "staff": [{"window": "W01", "a": "S0001", "b": "S0101", "cover": ["09:30-10:00"]}],
                "faults": [{"at": "09:45", "fault": "offline", "device": "rp-w02", "mode": "clean", "for_s": 600}],
            }
        )
    )
    with MqttWatcher(mosquitto.port, "hall/sc-hall/#") as watch:
        argv = ["scenario", "-f", str(day), "--broker", f"127.0.0.1:{mosquitto.port}", "--stateless"]
        assert main([*argv, "--status-s", "1"]) == 0
        out = capsys.readouterr().out
        rated = watch.matching(on("rating/rp-w01/event", type="rated"))
        punches = watch.matching(on("attendance/att-1/punch"))
        assert watch.matching(on("rating/rp-w02/status", state="offline", reason="shutdown"))
        assert watch.matching(on("lockbox/lb-1/event", type="phone_in"))
    assert "场景 (scenario) " in out and "08:30-11:00，3600 倍速" in out and "模拟时刻 0" in out
    assert len(rated) >= 5 and {r.json["staff_id"] for r in rated} <= {"S0001", "S0101"}
    assert {(p.json["staff_id"], p.json["direction"]) for p in punches} >= {("S0001", "in"), ("S0101", "in")}
    assert "出错：0 次" in out


def test_scenario_fault_time_is_day_time() -> None:
    # the plan carries the fault spec unchanged; the runner scales for_s by the speed
    sc = load_scenario({"speed": 60, "faults": [{"at": "10:00", "fault": "slow", "for_s": 600}]})
    [fault] = [a for a in plan_day(sc, DEVICES, WINDOWS) if a.op == "fault"]
    assert fault.args[0] == {"fault": "slow", "for_s": 600} and fault.at_s == 90 * 60
