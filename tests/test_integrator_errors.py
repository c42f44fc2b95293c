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
            r"signals.in_total.adress: unknown field: remove it or check its spelling",
        ),
        (COUNTER, r"c.yaml: signals: required field is missing: add it"),
        (
            COUNTER + "signals: {in_total: {table: holdings, address: 0}}\n",
            r"signals.in_total.table: 'holdings' is not allowed here: use 'coil', 'discrete', 'input' or 'holding'",
        ),
        (
            "name: c\nkind: people_counter\nprotocol: bacnet\n",
            r"c.yaml: protocol: 'bacnet' is not known: use mqtt or modbus",
        ),
        (
            "name: c\nkind: people_counter\n",
            r"c.yaml: protocol: required field is missing: add protocol: mqtt or modbus",
        ),
        ("- a\n- b\n", r"c.yaml: \(top level\): a profile is a mapping with name, kind, protocol"),
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
    with pytest.raises(ProfileError, match=r"c.yaml: not UTF-8 text \(byte \d+\): save it as UTF-8"):
        load_profile(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(ProfileError, match=r"d.yaml: cannot be read: Is a directory"):
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
        (("check-config", str(tmp_path)), "(file): cannot be read: Is a directory"),
        (("run", "-c", str(tmp_path)), "(file): cannot be read: Is a directory"),
        (("check-config", str(tmp_path / "latin1.yaml")), "(file): not UTF-8 text (byte 15): save it as UTF-8"),
        (("check-config", str(tmp_path / "hall.yaml")), "c.yaml: not UTF-8 text"),
    ]
    for args, message in cases:
        done = _cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, (args, done.stderr)
        assert message in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    env = {**os.environ, "HALLGATE_BROKER__PORT": "[1"}
    done = _cli("check-config", str(tmp_path / "hall.yaml"), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "$HALLGATE_BROKER__PORT: not valid YAML" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_zone_id_given_twice_is_an_error(tmp_path: Path) -> None:
    """Two zones `z1` (capacities 5 and 10) passed check-config; the hall then counted one."""
    (tmp_path / "hall.yaml").write_text(
        "site: h\nzones: [{id: z1, capacity: 5}, {id: z2, capacity: 5}, {id: z1, capacity: 10}]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "hall.yaml", {})
    assert e.value.problems == [("zones[2] (id z1).id", "zone id 'z1' is used twice: zone ids must be unique")]


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
            "TOK_B holds the same token as TOK_A (api.tokens[0]): give every role and holder a token of its own",
        ),
        (
            "api.tokens[2].env",
            "TOK_A names the same variable (api.tokens[0]): give every role and holder a token of its own",
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
    fix = "is empty: give a value (or leave the field out for its default)"
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
        problems["site"] == "'Demo Hall' is not allowed here: use lowercase letters, digits, '_' or '-' (e.g. hall-07)"
    )
    assert problems["zones[0] (id Z1).id"].startswith("'Z1' is not allowed here: use lowercase letters")
    assert problems["devices[0] (id bad id).id"] == (
        "'bad id' is not allowed here: use 1-64 letters, digits, '.', '_' or '-' (e.g. rp-w01)"
    )
    assert "should match pattern" not in str(e.value)


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("hall/h/rating/#", "MQTT wildcards (+, #) and NUL are not allowed"),
        ("vendor/+/rp-1", "MQTT wildcards (+, #) and NUL are not allowed"),
        ("", "an empty topic"),
        ("$SYS/rp-1", "topics starting with $ belong to the broker"),
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
        "HALLGATE_BROKR__PORT": ("1", "brokr (from $HALLGATE_BROKR__PORT)", "does not name a setting"),
        "HALLGATE_DEVICES__5__ID": ("x", "devices (from $HALLGATE_DEVICES__5__ID)", "does not name a setting"),
        "HALLGATE_BROKER__PORT": ("abc", "broker.port (from $HALLGATE_BROKER__PORT)", "valid integer"),
    }
    for name, (value, where, words) in cases.items():
        with pytest.raises(ConfigError) as e:
            load_config(tmp_path / "hall.yaml", {name: value})
        [(got, text)] = e.value.problems
        assert got == where and words in text, e.value.problems
    assert load_config(tmp_path / "hall.yaml", {"HALLGATE_BROKER__PORT": "1884"}).broker.port == 1884
