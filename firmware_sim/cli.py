"""`python -m firmware_sim`: run simulated device firmware (one device, a hall, a district).

The gateway's `hallgate sim ...` delegates here: `main(argv)` returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from firmware_sim.hall import KINDS, MODBUS_KINDS, DistrictSimulator, HallConfigError, HallSimulator
from firmware_sim.mqtt_device import MqttSettings

EPILOG = """examples:
  python -m firmware_sim device rating_pad --id rp-w07 --window W07 --broker 127.0.0.1:1883 --heartbeat-s 5
  python -m firmware_sim device lockbox --id lb-1f --slots 24 --mqtt-protocol 3.1.1
  python -m firmware_sim device people_counter --id pc-1 --port 15021 --unit 1
  python -m firmware_sim device pickup_locker --id locker-a1 --port 15020 --framer rtu
  python -m firmware_sim device people_counter --id pc-2 --serial /dev/pts/3 --baudrate 9600 --unit 2
  python -m firmware_sim hall -c configs/demo-hall.yaml --rate 6
  python -m firmware_sim district --halls 30 --modbus-port-base 16000

MQTT devices publish to hall/{site}/{rating|lockbox|attendance}/{id}/{status,heartbeat,event|punch,ack}
and take commands on .../cmd. Modbus devices serve the register maps of device-protocols.md.
Stop with Ctrl-C: MQTT devices publish status offline (reason shutdown) before they disconnect.
"""


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


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
        help="keep each device's seq counter here so it survives restarts (default: memory only)",
    )
    g.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    g.add_argument("-v", "--verbose", action="store_true", help="log connections and faults")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim",
        description="Simulated firmware of hall devices (rating pads, phone lockboxes, attendance machines "
        "over MQTT; pickup-locker boards and people counters over Modbus).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{device,hall,district}")

    dev = sub.add_parser(
        "device",
        help="run one device",
        description="Run one simulated device.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    dev.add_argument("kind", choices=KINDS, help="device kind")
    dev.add_argument("--id", required=True, help="device id (MQTT client id becomes {wirekind}-{id})")
    dev.add_argument("--site", default="demo-hall", help="site in the MQTT topics")
    dev.add_argument("--window", help="rating pad: the window it stands at, e.g. W07")
    dev.add_argument("--slots", type=int, help="lockbox: number of slots (12-48, default 24)")
    dev.add_argument("--host", default="127.0.0.1", help="Modbus devices: address to listen on")
    dev.add_argument("--port", type=int, default=15020, help="Modbus devices: TCP port to listen on")
    dev.add_argument("--unit", type=int, default=1, help="Modbus devices: unit id")
    dev.add_argument(
        "--framer",
        choices=("socket", "rtu"),
        default="socket",
        help="Modbus devices: socket = Modbus TCP, rtu = RTU frames over TCP (serial server)",
    )
    dev.add_argument(
        "--serial",
        metavar="PATH",
        help="Modbus devices: serve RTU on this serial port instead of TCP (e.g. one end of a socat pty pair)",
    )
    dev.add_argument("--baudrate", type=int, default=9600, help="Modbus devices on --serial: baud rate (8N1)")
    _common(dev)

    hall = sub.add_parser(
        "hall",
        help="run every device of a hall configuration",
        description="Run every device listed in a hall configuration file.",
    )
    hall.add_argument("-c", "--config", required=True, type=Path, help="hall YAML, e.g. configs/demo-hall.yaml")
    hall.add_argument(
        "--modbus-port-base",
        type=int,
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
    district.add_argument("--halls", type=int, required=True, metavar="N", help="number of halls")
    district.add_argument("-c", "--config", type=Path, help="hall YAML to copy (default: a 5-device village station)")
    district.add_argument(
        "--modbus-port-base",
        type=int,
        default=16000,
        metavar="PORT",
        help="first Modbus port (default 16000)",
    )
    _common(district)
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    host, port = args.broker
    return {
        "mqtt": MqttSettings(host=host, port=port, protocol=args.mqtt_protocol),
        "heartbeat_s": args.heartbeat_s,
        "rate_per_min": args.rate,
        "seed": args.seed,
        "state_dir": args.state_dir,
    }


def _build(args: argparse.Namespace) -> HallSimulator | DistrictSimulator:
    common = _settings(args)
    if args.command == "device":
        modbus = None
        if args.kind in MODBUS_KINDS:
            if args.serial:
                modbus = {"serial": args.serial, "baudrate": args.baudrate, "unit": args.unit}
            else:
                modbus = {"host": args.host, "port": args.port, "unit": args.unit, "framer": args.framer}
            common.pop("state_dir")
        return HallSimulator.single(
            args.kind, args.id, site=args.site, window=args.window, slots=args.slots, modbus=modbus, **common
        )
    if args.command == "hall":
        return HallSimulator(args.config, modbus_port_base=args.modbus_port_base, **common)
    if args.halls < 1:
        raise HallConfigError("--halls must be at least 1")
    return DistrictSimulator(args.halls, args.config, modbus_port_base=args.modbus_port_base, **common)


async def _run(sim: HallSimulator | DistrictSimulator, duration: float | None) -> None:
    async with sim:
        print(f"started {sum(len(h.devices) for h in _halls(sim))} simulated devices:", flush=True)
        for line in sim.describe():
            print(line, flush=True)
        print("running" + (f" for {duration} s" if duration else "; Ctrl-C to stop"), flush=True)
        if duration:
            await asyncio.sleep(duration)
        else:
            await asyncio.Event().wait()


def _halls(sim: HallSimulator | DistrictSimulator) -> list[HallSimulator]:
    return sim.halls if isinstance(sim, DistrictSimulator) else [sim]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        sim = _build(args)
        asyncio.run(_run(sim, args.duration))
    except HallConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return 0
