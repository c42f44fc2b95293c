"""`hallgate sim` checks what goes into topics and sockets before starting anything: a bad value
is an argparse error naming the option and what it takes, never a traceback or a misleading
"is the broker running?"."""

from __future__ import annotations

import re

import pytest

from firmware_sim.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["device", "people_counter", "--id", "pc-1", "--port", "99999"], "--port: expected a TCP port 1-65535"),
        (["device", "rating_pad", "--id", "a/#"], "--id: 'a/#' is not a device id: use 1-64 letters"),
        (["device", "rating_pad", "--id", "x", "--site", "Demo Hall"], "--site: 'Demo Hall' is not a site"),
        (["device", "rating_pad", "--id", "x", "--broker", "h:70000"], "--broker: expected HOST:PORT (port 1-65535)"),
        (["device", "rating_pad", "--id", "x", "--http-control", "0"], "--http-control: expected a TCP port"),
        (["hall", "-c", "configs/demo-hall.yaml", "--modbus-port-base", "70000"], "--modbus-port-base: expected"),
        (["district", "--sites", "2", "--api-port-base", "-1"], "--api-port-base: expected a TCP port"),
    ],
)
def test_bad_arguments_are_named_before_anything_starts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--port 99999` was an OverflowError traceback from bind; `--id 'a/#'` put a wildcard into
    the device's topics, the broker refused them, and the simulator said no device reached it."""
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["--help"], ["device", "--help"], ["hall", "--help"], ["queue", "--help"]])
def test_help_names_the_command_people_type_and_each_default_once(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`hallgate sim --help` said `python -m firmware_sim`, and the device options said
    "(default 24) (default: None)": argparse's own default beside the one the text gives."""
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hallgate sim"), out
    assert "python -m firmware_sim" not in out
    assert "(default: None)" not in out
    flat = " ".join(out.split())  # argparse wraps the help text: one line to search
    assert not re.search(r"\(default[^()]*\) \(default", flat), flat
    if args[0] == "device":
        assert "12-48, default 24)" in flat and "(default 15020)" in flat
