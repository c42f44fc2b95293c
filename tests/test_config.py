from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.devices import build_registry, load_hall

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo-hall.yaml"
TOKENS = {
    f"HALLGATE_TOKEN_{r}": "test-token-for-" + r
    for r in ("TECHNICIAN", "STAFF", "DUTY_MANAGER", "MANAGER", "ADMIN", "VIEWER", "KIOSK_A1", "KIOSK_A2")
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(text)
    return path


def test_demo_hall_is_valid_and_has_every_kind() -> None:
    cfg = load_config(DEMO, TOKENS)
    devices, problems = build_registry(cfg)
    assert problems == []
    assert {d.kind for d in devices.values()} == {
        "lockbox",
        "pickup_locker",
        "attendance",
        "rating_pad",
        "people_counter",
        "queue",
    }
    assert len(devices) == 31 and len(cfg.zones) >= 2


def test_toaster_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "site: s1\ndevices:\n  - {id: t1, kind: toaster, profile: ref-lockbox}\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"{path}：devices[0] (id t1).kind：此处不允许 'toaster'：请填 'lockbox'" in result.stderr


def test_every_error_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "site: S 1\nbroker: {port: 99999}\nzones: [{id: a, capacity: 0}]\nextra: 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, {})
    fields = [p for p, _ in e.value.problems]
    assert fields == ["site", "zones[0] (id a).capacity", "broker.port", "extra"]


def test_references_and_profiles_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """site: s1
zones: [{id: hall, capacity: 10}]
devices:
  - {id: c1, kind: people_counter, profile: ref-people-counter, zone: hall}
  - {id: c2, kind: rating_pad, profile: ref-people-counter, modbus: {host: 10.0.0.9}}
  - {id: c3, kind: lockbox, profile: no-such-profile}
""",
    )
    _, problems = build_registry(load_config(path, {}))
    assert [p for p, _ in problems] == [
        "devices[0] (id c1).modbus",
        "devices[1] (id c2).profile",
        "devices[2] (id c3).profile",
    ]
    bad_zone = write(tmp_path, "site: s1\ndevices: [{id: c1, kind: lockbox, profile: ref-lockbox, zone: roof}]\n")
    with pytest.raises(ConfigError, match="zone 'roof' 不在区域 \\[\\] 之中"):
        load_config(bad_zone, {})


def test_one_pass_reports_fields_kinds_references_and_profiles_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """site: s1
broker: {port: 0}
zones: [{id: hall, capacity: 10}]
devices:
  - {id: c1, kind: people_counter, profile: ref-people-counter, window: W01, modbus: {host: 10.0.0.9}}
  - {id: c2, kind: people_counter, profile: ref-people-counter, modbus: {host: 10.0.0.9}}
  - {id: c3, kind: lockbox, profile: no-such-profile, zone: roof}
  - {id: c3, kind: rating_pad, profile: ref-rating-pad}
""",
    )
    with pytest.raises(ConfigError) as e:
        load_hall(path, {})
    assert [p for p, _ in e.value.problems] == [
        "broker.port",
        "devices[0] (id c1).window",
        "devices[1] (id c2).zone",
        "devices[2] (id c3).zone",
        "devices[3] (id c3).id",
        "devices[2] (id c3).profile",
    ]
    assert "people_counter 设备没有 window 参数" in e.value.render()


def test_a_profile_missing_what_its_kind_needs_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "half-counter.yaml").write_text(
        "name: half-counter\nkind: people_counter\nprotocol: modbus\n"
        "signals:\n  out_total: {table: input, address: 2, type: uint32}\n"
    )
    path = write(
        tmp_path,
        """site: s1
zones: [{id: hall, capacity: 10}]
devices: [{id: c1, kind: people_counter, profile: half-counter, zone: hall, modbus: {host: 10.0.0.9}}]
""",
    )
    with pytest.raises(
        ConfigError,
        match=r"devices\[0\] \(id c1\).profile：设备模板 half-counter 缺少 people_counter 所需的：reading.in_total",
    ):
        load_hall(path, {})


def test_environment_overrides_any_setting_and_secrets_come_only_from_it() -> None:
    env = TOKENS | {
        "HALLGATE_BROKER__PORT": "1999",
        "HALLGATE_DEVICES__0__WINDOW": "W99",
        "HALLGATE_STORE__MAX_BYTES": "2MiB",
    }
    cfg = load_config(DEMO, env)
    assert (cfg.broker.port, cfg.devices[0].window, cfg.store.max_bytes) == (1999, "W99", 2 * 1024**2)
    with pytest.raises(ConfigError, match="环境变量 HALLGATE_TOKEN_MANAGER 未设置"):
        load_config(DEMO, {k: v for k, v in TOKENS.items() if "MANAGER" not in k or "DUTY" in k})


def test_a_token_written_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "site: s1\napi: {tokens: [{role: admin, token: hunter2}]}\n")
    with pytest.raises(ConfigError, match=r"api.tokens\[0\].token：未知字段"):
        load_config(path, {})


def test_run_reports_a_config_problem_in_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, "site: s1\ndevices: [{id: lb-1, kind: lockbox, profile: no-such-profile}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}：devices[0] (id lb-1).profile：在 " in result.stderr
    assert "中找不到设备模板 'no-such-profile'" in result.stderr


def test_run_reports_a_store_it_cannot_open_in_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").write_text("")
    with sqlite3.connect(tmp_path / "state.sqlite") as conn:
        conn.execute("PRAGMA user_version = 999")
    path = write(tmp_path, f"site: s1\napi: {{port: 0}}\nstore: {{path: {tmp_path}/outbox.sqlite}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "store.state_path：无法打开状态数据库" in result.stderr
    assert "newer than this gateway knows" in result.stderr


def test_a_time_error_names_the_form_and_the_line(tmp_path: Path) -> None:
    """`hallgate check-config` on a time that is not one: the form it takes (HH:MM) and the line
    of the file, as well as the field path."""
    path = write(
        tmp_path,
        "site: s1\nworking_hours:\n  days: [mon]\n  start: nine\n  end: 17:00\ndevices: []\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    err = result.stderr
    assert f"""{path}：working_hours.start：'nine' 不是时刻：请写 HH:MM，如 "09:00" (time_parsing)（第 4 行）""" in err
    # 17:00 unquoted is YAML's base-60 number 1020: the same form named, on its own line.
    assert """working_hours.end：1020 是数字，不是时刻：请写带引号的 HH:MM""" in err
    assert err.count("（第 5 行）") == 1, err
