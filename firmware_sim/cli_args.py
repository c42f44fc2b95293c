"""The command line of `python -m firmware_sim` (`hallgate sim`): its subcommands and options,
and the checks of what goes into MQTT topics. firmware_sim/cli.py runs what they ask for."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from firmware_sim import queue_cli
from firmware_sim.common import default_state_root
from firmware_sim.kinds.registry import KINDS

EPILOG = """examples:
  hallgate sim device rating_pad --id rp-w07 --window W07 --broker 127.0.0.1:1883 --heartbeat-s 5
  hallgate sim device lockbox --id lb-1f --slots 24 --mqtt-protocol 3.1.1
  hallgate sim device people_counter --id pc-1 --port 15021 --unit 1
  hallgate sim device pickup_locker --id locker-a1 --port 15020 --framer rtu
  hallgate sim device people_counter --id pc-2 --serial /dev/pts/3 --baudrate 9600 --unit 2
  hallgate sim hall -c configs/demo-hall.yaml --rate 6
  hallgate sim district --sites 30 --modbus-port-base 16000 --write-configs district/
  hallgate sim hall -c configs/demo-hall.yaml --fault jam:device=lb-1f,slot=3 --fault flaky:share=0.2,loss=0.5
  hallgate sim scenario -f firmware_sim/templates/day.yaml --speed 120
  hallgate sim queue --full-speed --windows 30 --tickets 3000 --pads
  hallgate sim fault jam --device lb-1f --slot 3 --broker 127.0.0.1:1883

MQTT devices publish to hall/{site}/{rating|lockbox|attendance|queue}/{id}/{status,heartbeat,event|punch,ack}
and take commands on .../cmd. Modbus devices serve the register maps of device-protocols.md.
Stop with Ctrl-C or SIGTERM: MQTT devices publish status offline (reason shutdown) before they
disconnect. Faults at runtime: publish {"fault": ...} to sim/{site}/{device|all}/control (answers on
sim/{site}/control/result), or `hallgate sim fault --help`; the faults are listed in firmware_sim/faults.py
and the README.
"""


def _port(text: str) -> int:
    """A TCP port (1-65535): `--port 99999` was a traceback (OverflowError from bind)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text!r}")
    return int(text)


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (port 1-65535), got {text!r}")
    return host, int(port)


def _matching(pattern: str, what: str, rule: str) -> Any:
    """An argparse type for a name that goes into MQTT topics: `--id 'a/#'` put a wildcard in the
    device's topics, the broker refused them, and the simulator said the broker was not running."""

    def check(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}: use {rule}")
        return text

    return check


DEVICE_ID = _matching(r"[A-Za-z0-9_.-]{1,64}", "device id", "1-64 letters, digits, '.', '_' or '-'")
SITE = _matching(r"[a-z0-9_-]+", "site", "lowercase letters, digits, '_' or '-'")


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simulation")
    g.add_argument(
        "--broker",
        type=_broker,
        default=("127.0.0.1", 1883),
        metavar="HOST:PORT",
        help="MQTT broker for the MQTT devices (default 127.0.0.1:1883)",
    )
    g.add_argument(
        "--mqtt-protocol",
        choices=("5", "3.1.1"),
        default="5",
        help="MQTT protocol version (default 5; use 3.1.1 with the demo's amqtt broker)",
    )
    g.add_argument(
        "--heartbeat-s",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds between MQTT heartbeats (default 30)",
    )
    g.add_argument(
        "--rate",
        type=float,
        default=2.0,
        metavar="PER_MIN",
        help="activity: events a minute per device, 0 for none; counters count 5x this "
        "many people a minute (default 2)",
    )
    g.add_argument("--seed", default="0", help="random seed: the same seed gives the same activity (default 0)")
    g.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="each MQTT device keeps its seq (flash) in DIR/{site}/{device}/ so it survives restarts "
        f"(default: {default_state_root()}, or $FIRMWARE_SIM_STATE_DIR)",
    )
    g.add_argument("--stateless", action="store_true", help="keep seq in memory only: it starts at 0 every run")
    g.add_argument(
        "--no-will",
        dest="will",
        action="store_false",
        help="MQTT devices connect without a will: an abrupt drop (fault offline) leaves their status online",
    )
    g.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="apply a fault once the devices are up: NAME[:key=value,...] or JSON, e.g. "
        "offline:device=rp-w01,mode=clean  flaky:share=0.2,loss=0.5  jam:device=lb-1f,slot=3 (repeatable)",
    )
    g.add_argument(
        "--no-control",
        dest="control",
        action="store_false",
        help="do not listen for faults on sim/{site}/{device|all}/control",
    )
    g.add_argument(
        "--http-control",
        type=_port,
        metavar="PORT",
        help="also take faults over HTTP on 127.0.0.1:PORT (POST /faults with the JSON; GET /faults)",
    )
    g.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="fail (exit 1) when no MQTT device reaches the broker within S seconds (default 10)",
    )
    g.add_argument(
        "--status-s",
        type=float,
        default=5.0,
        metavar="S",
        help="print a status line every S seconds, 0 for none (default 5)",
    )
    g.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    g.add_argument("-v", "--verbose", action="store_true", help="log connections and faults")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallgate sim",  # also `python -m firmware_sim`: the same command line
        description="Simulated firmware of hall devices (rating pads, phone lockboxes, attendance machines "
        "over MQTT; pickup-locker boards and people counters over Modbus).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{device,hall,district,scenario,queue,fault}")

    dev = sub.add_parser(
        "device",
        help="run one device",
        description="Run one simulated device.",
    )
    dev.add_argument("kind", choices=KINDS, help="device kind")
    dev.add_argument("--id", required=True, type=DEVICE_ID, help="device id (MQTT client id becomes {wirekind}-{id})")
    dev.add_argument("--site", default="demo-hall", type=SITE, help="site in the MQTT topics (default demo-hall)")
    dev.add_argument("--window", help="rating pad: the window it stands at, e.g. W07")
    dev.add_argument("--slots", type=int, help="lockbox: number of slots (12-48, default 24)")
    dev.add_argument("--host", default="127.0.0.1", help="Modbus devices: address to listen on (default 127.0.0.1)")
    dev.add_argument("--port", type=_port, default=15020, help="Modbus devices: TCP port to listen on (default 15020)")
    dev.add_argument("--unit", type=int, default=1, help="Modbus devices: unit id (default 1)")
    dev.add_argument(
        "--framer",
        choices=("socket", "rtu"),
        default="socket",
        help="Modbus devices: socket = Modbus TCP, rtu = RTU frames over TCP (serial server) (default socket)",
    )
    dev.add_argument(
        "--serial",
        metavar="PATH",
        help="Modbus devices: serve RTU on this serial port instead of TCP (e.g. one end of a socat pty pair)",
    )
    dev.add_argument(
        "--baudrate", type=int, default=9600, help="Modbus devices on --serial: baud rate, 8N1 (default 9600)"
    )
    _common(dev)

    hall = sub.add_parser(
        "hall",
        help="run every device of a hall configuration",
        description="Run every device listed in a hall configuration file.",
    )
    hall.add_argument("-c", "--config", required=True, type=Path, help="hall YAML, e.g. configs/demo-hall.yaml")
    hall.add_argument(
        "--modbus-port-base",
        type=_port,
        metavar="PORT",
        help="move the Modbus servers to consecutive ports from PORT (default: the file's ports)",
    )
    _common(hall)

    district = sub.add_parser(
        "district",
        help="run many halls: every site's MQTT devices on one broker",
        description="Run N copies of a hall (sites SITE-001...; device ids ID-001...) "
        "on one broker, Modbus servers on consecutive ports.",
    )
    district.add_argument(
        "--sites", "--halls", dest="halls", type=int, required=True, metavar="N", help="number of sites"
    )
    district.add_argument(
        "--write-configs",
        type=Path,
        metavar="DIR",
        help="write the gateway configuration of every site to DIR/{site}.yaml",
    )
    district.add_argument(
        "--api-port-base",
        type=_port,
        default=18000,
        metavar="PORT",
        help="the written configurations' API ports: PORT, PORT+1, ... (default 18000)",
    )
    district.add_argument("-c", "--config", type=Path, help="hall YAML to copy (default: a 5-device village station)")
    load = district.add_argument_group(
        "forwarding load (--store): play every site's forwarding into the district store instead of devices"
    )
    load.add_argument(
        "--store", metavar="URL", help="the district store (vmauth or VictoriaMetrics), e.g. http://vm:8427"
    )
    load.add_argument(
        "--district-file",
        type=Path,
        metavar="FILE",
        help="district.yaml: its sites, levels and passwords (password_env)",
    )
    load.add_argument("--seconds", type=float, default=60.0, help="how long to play (default 60)")
    load.add_argument("--cut-s", type=float, default=0.0, help="each site's link cut, seconds (default none)")
    load.add_argument(
        "--catch-up-rate", type=float, default=2000.0, help="points a second per site after a cut (default 2000)"
    )
    load.add_argument("--report", type=Path, metavar="FILE", help="write what each site made and sent (JSON)")
    load.add_argument(
        "--backlog-sites", type=int, default=0, metavar="K", help="K sites start back from a cut of --backlog-s"
    )
    load.add_argument("--backlog-s", type=float, default=3600.0, help="that cut's length, seconds (default 3600)")
    district.add_argument(
        "--modbus-port-base",
        type=_port,
        default=16000,
        metavar="PORT",
        help="first Modbus port (default 16000)",
    )
    _common(district)

    scenario = sub.add_parser(
        "scenario",
        help="play a day in a hall from a scenario file",
        description="Play a day in a hall (arrivals, services and ratings, staff punches, lockbox and "
        "locker use, faults) from a scenario YAML, at real time or faster; see "
        "firmware_sim/templates/day.yaml.",
    )
    scenario.add_argument("-f", "--file", required=True, type=Path, help="scenario YAML")
    scenario.add_argument("-c", "--config", type=Path, help="hall YAML (default: the scenario's `hall`)")
    scenario.add_argument(
        "--speed", type=float, metavar="X", help="day time runs X times real time (default: the file's)"
    )
    scenario.add_argument("--modbus-port-base", type=_port, metavar="PORT", help="move the Modbus servers")
    _common(scenario)
    scenario.set_defaults(rate=0.0)  # the scenario drives the devices
    queue_cli.add_parser(sub, _common, DEVICE_ID, SITE)
    # parsed by firmware_sim/fault_cli.py (cli.main hands it over); listed here for --help
    sub.add_parser("fault", help="向运行中的模拟器 (hallgate demo 也是) 发一个故障, 如: jam --device lb-1f --slot 3")
    return parser
