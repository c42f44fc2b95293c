"""An integrator's mistakes in a new vendor's profile or in the hall file: one message naming the
file, the field as written in the file, and the fix; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.profiles.loader import ProfileError, load_profile
from gateway.config.errors import ConfigError
from gateway.config.load import load_config

COUNTER = "name: c\nkind: people_counter\nprotocol: modbus\nvendor: Corvo\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            COUNTER + "signals: {in_total: {table: input, adress: 0, type: uint32}}\n",
            r"signals.in_total.adress: 未知字段：请删除或检查拼写",
        ),
        (COUNTER, r"c.yaml: signals: 缺少必填字段：请补上 \(missing\)"),
        (
            COUNTER + "signals: {in_total: {table: holdings, address: 0}}\n",
            r"signals.in_total.table: 此处不允许 'holdings'：请填 'coil', 'discrete', 'input' 或 'holding'",
        ),
        (
            "name: c\nkind: people_counter\nprotocol: bacnet\n",
            r"c.yaml: protocol: 未知协议 'bacnet'：请填 mqtt 或 modbus",
        ),
        (
            "name: c\nkind: people_counter\n",
            r"c.yaml: protocol: 缺少必填字段：请加上 protocol: mqtt 或 modbus",
        ),
        ("- a\n- b\n", r"c.yaml: \(top level\): 设备模板是映射，含 name、kind、protocol"),
    ],
)
def test_profile_errors_name_the_field_as_written_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    """The path had pydantic's protocol tag in front (`modbus.signals...`, not in the file) and
    pydantic's own words ("Extra inputs are not permitted", "Field required") with no fix."""
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ProfileError, match=message) as e:
        load_profile(tmp_path / "c.yaml")
    assert "modbus." not in str(e.value) and "Field required" not in str(e.value)


def test_a_profile_that_cannot_be_read_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_bytes(COUNTER.encode() + b"# \xff\xfe\n")
    with pytest.raises(ProfileError, match=r"c.yaml：不是 UTF-8 文本（第 \d+ 字节）：请另存为 UTF-8"):
        load_profile(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(ProfileError, match=r"d.yaml：无法读取 \(unreadable\)：Is a directory"):
        load_profile(tmp_path / "d.yaml")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_check_config_and_run_give_one_line_for_files_they_cannot_read(tmp_path: Path) -> None:
    """A directory, a file that is not UTF-8 (the hall's or a profile's) and an override that is
    not YAML were tracebacks."""
    (tmp_path / "latin1.yaml").write_bytes("site: h\nname: Büro\n".encode("latin-1"))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "c.yaml").write_bytes(COUNTER.encode() + b"# \xff\n")
    (tmp_path / "hall.yaml").write_text(
        "site: h\nzones: [{id: z, name: Z, capacity: 5}]\n"
        "devices: [{id: c1, kind: people_counter, profile: c, zone: z, modbus: {host: 127.0.0.1, port: 1}}]\n"
    )
    cases = [
        (("check-config", str(tmp_path)), "(file)：无法读取：Is a directory"),
        (("run", "-c", str(tmp_path)), "(file)：无法读取：Is a directory"),
        (("check-config", str(tmp_path / "latin1.yaml")), "(file)：不是 UTF-8 文本（第 15 字节）：请另存为 UTF-8"),
        (("check-config", str(tmp_path / "hall.yaml")), "c.yaml：不是 UTF-8 文本"),
    ]
    for args, message in cases:
        done = _cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, (args, done.stderr)
        assert message in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    env = {**os.environ, "HALLGATE_BROKER__PORT": "[1"}
    done = _cli("check-config", str(tmp_path / "hall.yaml"), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "$HALLGATE_BROKER__PORT：不是有效的 YAML" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_zone_id_given_twice_is_an_error(tmp_path: Path) -> None:
    """Two zones `z1` (capacities 5 and 10) passed check-config; the hall then counted one."""
    (tmp_path / "hall.yaml").write_text(
        "site: h\nzones: [{id: z1, capacity: 5}, {id: z2, capacity: 5}, {id: z1, capacity: 10}]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {})
    assert e.value.problems == [("zones[2] (id z1).id", "区域编号 'z1' 重复：区域编号不能重复 (duplicate_id)")]


def test_one_token_for_two_roles_is_an_error(tmp_path: Path) -> None:
    """The same token under two entries got the last entry's role silently (a staff token that a
    later line made technician): refused, whether by one variable named twice or two equal ones."""
    (tmp_path / "hall.yaml").write_text(
        "site: h\napi: {tokens: [{role: staff, env: TOK_A}, {role: admin, env: TOK_B},"
        " {role: technician, env: TOK_A}]}\n"
    )
    token = "a-token-of-twenty-chars"
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {"TOK_A": token, "TOK_B": token})
    assert e.value.problems == [
        (
            "api.tokens[1].env",
            "TOK_B 与 TOK_A 的令牌相同（api.tokens[0]）：每个角色和持有人各用自己的令牌 (token_shared)",
        ),
        (
            "api.tokens[2].env",
            "TOK_A 与之是同一个环境变量（api.tokens[0]）：每个角色和持有人各用自己的令牌 (token_shared)",
        ),
    ]
    assert token not in str(e.value)
    load_config(tmp_path / "hall.yaml", {"TOK_A": token, "TOK_B": token + "b"}, require_secrets=False)


def test_an_empty_host_is_an_error(tmp_path: Path) -> None:
    """`api.host: ""` passed check-config and bound the API to every interface; an empty broker or
    Modbus host passed too and could never connect."""
    (tmp_path / "hall.yaml").write_text(
        'site: h\nbroker: {host: ""}\napi: {host: ""}\nzones: [{id: z, capacity: 5}]\n'
        "devices: [{id: c1, kind: people_counter, profile: ref-people-counter, zone: z,"
        ' modbus: {host: "", port: 502}}]\n'
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {})
    fix = "为空：请填写（或删去该字段用默认值） (string_too_short)"
    assert sorted(e.value.problems) == [
        ("api.host", fix),
        ("broker.host", fix),
        ("devices[0] (id c1).modbus.host", fix),
    ]


def test_a_value_that_breaks_a_pattern_is_told_what_to_use(tmp_path: Path) -> None:
    """`site: String should match pattern '^[a-z0-9_-]+$'` named no fix in words."""
    (tmp_path / "hall.yaml").write_text(
        "site: Demo Hall\nzones: [{id: Z1, capacity: 5}]\n"
        "devices: [{id: bad id, kind: rating_pad, profile: ref-rating-pad, window: W1}]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {})
    problems = dict(e.value.problems)
    assert (
        problems["site"]
        == "此处不允许 'Demo Hall'：请用小写字母、数字、'_' 或 '-'（如 hall-07） (string_pattern_mismatch)"
    )
    assert problems["zones[0] (id Z1).id"].startswith("此处不允许 'Z1'：请用小写字母")
    assert problems["devices[0] (id bad id).id"] == (
        "此处不允许 'bad id'：请用 1-64 个字母、数字、'.'、'_' 或 '-'（如 rp-w01） (string_pattern_mismatch)"
    )
    assert "should match pattern" not in str(e.value)


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("hall/h/rating/#", "设备主题中不能有 MQTT 通配符"),
        ("vendor/+/rp-1", "设备主题中不能有 MQTT 通配符"),
        ("", "主题为空"),
        ("$SYS/rp-1", "以 $ 开头的主题属于代理本身"),
    ],
)
def test_a_device_topic_override_is_a_plain_topic(tmp_path: Path, topic: str, message: str) -> None:
    """The profile's template refuses wildcards, but `devices[].mqtt.topic` passed check-config
    with `#` or `+`: the device's subscription then took other devices' messages as its own."""
    (tmp_path / "hall.yaml").write_text(
        "site: h\ndevices: [{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W1,"
        f" mqtt: {{topic: {topic!r}}}}}]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {})
    [(where, text)] = e.value.problems
    assert where == "devices[0] (id rp-1).mqtt.topic" and message in text, e.value.problems
    (tmp_path / "ok.yaml").write_text(
        "site: h\ndevices: [{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W1,"
        " mqtt: {topic: vendor/h/pads/rp-1}}]\n"
    )
    load_config(tmp_path / "ok.yaml", {})


def test_an_override_error_names_its_variable(tmp_path: Path) -> None:
    """`HALLGATE_BROKR__PORT=1` was reported as `brokr: unknown field` (no such line in the file)
    and `HALLGATE_DEVICES__5__ID` on a file without devices as `devices: Input should be a valid
    list`: the variable that caused it was not named."""
    (tmp_path / "hall.yaml").write_text("site: h\nbroker: {port: 1883}\n")
    cases = {
        "HALLGATE_BROKR__PORT": ("1", "brokr (from $HALLGATE_BROKR__PORT)", "不对应本文件的任何设置"),
        "HALLGATE_DEVICES__5__ID": ("x", "devices (from $HALLGATE_DEVICES__5__ID)", "不对应本文件的任何设置"),
        "HALLGATE_BROKER__PORT": ("abc", "broker.port (from $HALLGATE_BROKER__PORT)", "请填整数 (int_parsing)"),
    }
    for name, (value, where, words) in cases.items():
        with pytest.raises(ConfigError) as e:
            load_config(tmp_path / "hall.yaml", {name: value})
        [(got, text)] = e.value.problems
        assert got == where and words in text, e.value.problems
    assert load_config(tmp_path / "hall.yaml", {"HALLGATE_BROKER__PORT": "1884"}).broker.port == 1884
