"""`python -m firmware_sim`: run simulated device firmware (one device, a hall, a district).

The gateway's `hallgate sim ...` delegates here: `main(argv)` returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from firmware_sim import queue_cli
from firmware_sim.common import default_state_root
from firmware_sim.control import ControlChannel, HttpControl
from firmware_sim.faults import FaultError, parse_fault
from firmware_sim.hall import DistrictSimulator, HallConfigError, HallSimulator
from firmware_sim.kinds.registry import KINDS
from firmware_sim.mqtt_device import DEFAULT_STATE, MqttSettings
from firmware_sim.scenario import ScenarioError, ScenarioRunner, load_scenario

EPILOG = """examples:
  python -m firmware_sim device rating_pad --id rp-w07 --window W07 --broker 127.0.0.1:1883 --heartbeat-s 5
  python -m firmware_sim device lockbox --id lb-1f --slots 24 --mqtt-protocol 3.1.1
  python -m firmware_sim device people_counter --id pc-1 --port 15021 --unit 1
  python -m firmware_sim device pickup_locker --id locker-a1 --port 15020 --framer rtu
  python -m firmware_sim device people_counter --id pc-2 --serial /dev/pts/3 --baudrate 9600 --unit 2
  python -m firmware_sim hall -c configs/demo-hall.yaml --rate 6
  python -m firmware_sim district --sites 30 --modbus-port-base 16000 --write-configs district/
  python -m firmware_sim hall -c configs/demo-hall.yaml --fault jam:device=lb-1f,slot=3 --fault flaky:share=0.2,loss=0.5
  python -m firmware_sim scenario -f firmware_sim/templates/day.yaml --speed 120
  python -m firmware_sim queue --full-speed --windows 30 --tickets 3000 --pads

MQTT devices publish to hall/{site}/{rating|lockbox|attendance|queue}/{id}/{status,heartbeat,event|punch,ack}
and take commands on .../cmd. Modbus devices serve the register maps of device-protocols.md.
Stop with Ctrl-C or SIGTERM: MQTT devices publish status offline (reason shutdown) before they
disconnect. Faults at runtime: publish {"fault": ...} to sim/{site}/{device|all}/control (answers on
sim/{site}/control/result); the faults are listed in firmware_sim/faults.py and the README.
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
        prog="python -m firmware_sim",
        description="Simulated firmware of hall devices (rating pads, phone lockboxes, attendance machines "
        "over MQTT; pickup-locker boards and people counters over Modbus).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{device,hall,district,scenario,queue}")

    dev = sub.add_parser(
        "device",
        help="run one device",
        description="Run one simulated device.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    dev.add_argument("kind", choices=KINDS, help="device kind")
    dev.add_argument("--id", required=True, type=DEVICE_ID, help="device id (MQTT client id becomes {wirekind}-{id})")
    dev.add_argument("--site", default="demo-hall", type=SITE, help="site in the MQTT topics")
    dev.add_argument("--window", help="rating pad: the window it stands at, e.g. W07")
    dev.add_argument("--slots", type=int, help="lockbox: number of slots (12-48, default 24)")
    dev.add_argument("--host", default="127.0.0.1", help="Modbus devices: address to listen on")
    dev.add_argument("--port", type=_port, default=15020, help="Modbus devices: TCP port to listen on")
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
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    host, port = args.broker
    state: Any = DEFAULT_STATE
    if args.stateless:
        state = None
    elif args.state_dir is not None:
        state = args.state_dir
    return {
        "mqtt": MqttSettings(host=host, port=port, protocol=args.mqtt_protocol),
        "heartbeat_s": args.heartbeat_s,
        "rate_per_min": args.rate,
        "seed": args.seed,
        "state_dir": state,
        "will": args.will,
    }


def _build(args: argparse.Namespace) -> HallSimulator | DistrictSimulator:
    common = _settings(args)
    if args.command == "device":
        modbus = None
        if KINDS[args.kind].transport == "modbus":
            if args.serial:
                modbus = {"serial": args.serial, "baudrate": args.baudrate, "unit": args.unit}
            else:
                modbus = {"host": args.host, "port": args.port, "unit": args.unit, "framer": args.framer}
            common.pop("state_dir")
            common.pop("will")
        return HallSimulator.single(
            args.kind, args.id, site=args.site, window=args.window, slots=args.slots, modbus=modbus, **common
        )
    if args.command == "queue":
        return queue_cli.build(args, common)
    if args.command == "hall":
        return HallSimulator(args.config, modbus_port_base=args.modbus_port_base, **common)
    if args.command == "scenario":
        config = args.config or args.scenario.hall
        if config is None:
            raise ScenarioError(f"{args.file}: no `hall:` in the scenario; give the hall with -c FILE")
        return HallSimulator(config, modbus_port_base=args.modbus_port_base, **common)
    if args.halls < 1:
        raise HallConfigError("--sites must be at least 1")
    return DistrictSimulator(args.halls, args.config, modbus_port_base=args.modbus_port_base, **common)


def _halls(sim: HallSimulator | DistrictSimulator) -> list[HallSimulator]:
    return sim.halls if isinstance(sim, DistrictSimulator) else [sim]


def _totals(halls: list[HallSimulator]) -> dict[str, int]:
    total: dict[str, int] = {}
    for hall in halls:
        for key, value in hall.stats().items():
            total[key] = total.get(key, 0) + value
    return total


class StatusLine:
    """The live status: devices up, messages a second since the last line, faults active."""

    def __init__(self, halls: list[HallSimulator]) -> None:
        self.halls = halls
        self.started = self._at = time.monotonic()
        self._last = _totals(halls)
        self.first = dict(self._last)
        self.runner: ScenarioRunner | None = None

    def line(self) -> str:
        now = time.monotonic()
        totals = _totals(self.halls)
        dt = max(now - self._at, 1e-6)
        msg_s = (totals["published"] - self._last["published"]) / dt
        req_s = (totals["requests"] - self._last["requests"]) / dt
        self._at, self._last = now, totals
        faults = " ".join(h.faults.describe_active() for h in self.halls if h.faults.active_count)
        day = f" day {self.runner.day_clock(now - self.started)}," if self.runner else ""
        return (
            f"status {_clock(now - self.started)}:{day} {totals['up']}/{totals['devices']} devices up "
            f"({totals['mqtt_up']}/{totals['mqtt']} MQTT online), {msg_s:.1f} msg/s, "
            f"{req_s:.1f} Modbus req/s, {totals['faults']} faults active" + (f" ({faults})" if faults else "")
        )

    def summary(self) -> list[str]:
        took = time.monotonic() - self.started
        totals = _totals(self.halls)
        published = totals["published"] - self.first["published"]
        requests = totals["requests"] - self.first["requests"]
        devices = [d for h in self.halls for d in h.mqtt_devices]
        never = [d.device_id for d in devices if d.sessions == 0]
        reconnects = sum(max(d.sessions - 1, 0) for d in devices)
        lines = [
            f"summary: ran {took:.1f} s, {len(self.halls)} site(s), {totals['devices']} devices "
            f"({totals['mqtt']} MQTT, {totals['modbus']} Modbus)",
            f"  MQTT messages published: {published} ({published / max(took, 1e-6):.1f}/s); reconnects: {reconnects}",
            f"  Modbus requests served: {requests} ({requests / max(took, 1e-6):.1f}/s)",
            f"  faults applied: {sum(h.faults.applied for h in self.halls)}; active at the end: {totals['faults']}",
        ]
        if devices:
            dropped = sum(d.dropped_events for d in devices)
            waiting = sum(d.backlog for d in devices)
            lines.append(f"  events unsent at the end: {waiting}; dropped (backlog full): {dropped}")
        if self.runner is not None:
            counts = ", ".join(f"{n} {op}" for op, n in sorted(self.runner.counts.items()))
            lines.append(
                f"  scenario: {self.runner.done}/{len(self.runner.plan)} actions ({counts}); "
                f"errors: {self.runner.errors}"
            )
        if never:
            lines.append(f"  never online: {', '.join(never[:10])}" + (" ..." if len(never) > 10 else ""))
        return lines


def _fault_everywhere(halls: list[HallSimulator], spec: dict[str, Any], apply: bool) -> list[str]:
    """Check or apply a fault in every hall; one naming devices goes to the halls that have them
    (in a district, device ids carry their site's suffix), and is an error only if none has."""
    wanted = spec.get("device")
    if wanted is not None:
        ids = {wanted} if isinstance(wanted, str) else set(wanted)
        missing = ids - {d for h in halls for d in h.devices}
        if missing:
            raise FaultError(f"device: no device {sorted(missing)} in any simulated hall")
        halls = [h for h in halls if ids & set(h.devices)]
    done: list[str] = []
    for hall in halls:
        if wanted is not None:
            spec = {
                **spec,
                "device": sorted(set(hall.devices) & ({wanted} if isinstance(wanted, str) else set(wanted))),
            }
        done += hall.faults.apply(spec) if apply else hall.faults.check(spec)
    return done


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


async def _wait_stop(stop: asyncio.Event, timeout: float | None) -> bool:
    """Wait for `stop` up to `timeout` s; True when it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout)
    return stop.is_set()


async def _connected(halls: list[HallSimulator], timeout: float, stop: asyncio.Event) -> tuple[int, int, str | None]:
    """Wait until every MQTT device is online, `timeout` passes, or stop; (online, total, last error)."""
    devices = [d for h in halls for d in h.mqtt_devices]
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if all(d.connected.is_set() for d in devices):
            break
        await _wait_stop(stop, 0.05)
    online = sum(1 for d in devices if d.connected.is_set() or d.sessions > 0)
    errors = [d.last_error for d in devices if d.last_error]
    return online, len(devices), errors[-1] if errors else None


async def _run(sim: HallSimulator | DistrictSimulator, args: argparse.Namespace, faults: list[dict[str, Any]]) -> int:
    halls = _halls(sim)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # a clean stop on both: SIGTERM's default would end the process without a DISCONNECT, and
        # the broker would publish every device's will instead of the shutdown status
        loop.add_signal_handler(sig, stop.set)
    control_task: asyncio.Task[None] | None = None
    http: HttpControl | None = None
    host, port = args.broker
    try:
        async with sim:
            print(f"started {sum(len(h.devices) for h in halls)} simulated devices:", flush=True)
            for line in sim.describe():
                print(line, flush=True)
            if args.control:
                channel = ControlChannel(host, port, {h.site: h.faults for h in halls}, args.mqtt_protocol)
                control_task = asyncio.create_task(channel.run(), name="sim-control")
                print(f"faults: publish JSON to sim/{{site}}/{{device|all}}/control on {host}:{port}", flush=True)
            if args.http_control is not None:
                http = HttpControl("127.0.0.1", args.http_control, {h.site: h.faults for h in halls})
                await http.start()
                print(f"faults over HTTP: POST http://127.0.0.1:{http.port}/faults", flush=True)
            online, total, error = await _connected(halls, args.connect_timeout, stop)
            if total and online == 0 and not stop.is_set():
                print(
                    f"error: no MQTT device reached the broker {host}:{port} within {args.connect_timeout:g} s"
                    + (f" (last error: {error})" if error else "")
                    + "; is it running? (--broker HOST:PORT)",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            if online < total:
                print(f"warning: only {online} of {total} MQTT devices online so far (last error: {error})", flush=True)
            for spec in faults:
                ids = _fault_everywhere(halls, spec, apply=True)
                print(f"fault {spec.get('fault')}: {', '.join(ids) or 'no device'}", flush=True)
            status = StatusLine(halls)
            runner = None
            play: asyncio.Task[None] | None = None
            if args.command == "queue":
                play = asyncio.create_task(queue_cli.until_day_over(halls[0]), name="queue-day")
                play.add_done_callback(lambda _: stop.set())
            if args.command == "scenario":
                runner = ScenarioRunner(halls[0], args.scenario, args.speed)
                status.runner = runner
                print(
                    f"scenario {args.file}: {len(runner.plan)} actions, {runner.day_clock(0)}-"
                    f"{runner.day_clock(runner.length_s)} at {runner.speed:g}x ({runner.length_s:.0f} s)",
                    flush=True,
                )
                play = asyncio.create_task(runner.run(), name="scenario")
                play.add_done_callback(lambda _: stop.set())
            until_end = "; until the end of the day" if play else "; Ctrl-C to stop"
            print("running" + (f" for {args.duration} s" if args.duration else until_end), flush=True)
            end = time.monotonic() + args.duration if args.duration else None
            while not stop.is_set():
                wait = args.status_s if args.status_s > 0 else None
                if end is not None:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    wait = left if wait is None else min(wait, left)
                if await _wait_stop(stop, wait):
                    break
                if args.status_s > 0 and (end is None or time.monotonic() < end):
                    print(status.line(), flush=True)
            if play is not None:
                if not play.done():
                    play.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await play
            print("stopping", flush=True)
        for line in status.summary():
            print(line, flush=True)
        return 0
    finally:
        if http is not None:
            await http.stop()
        if control_task is not None:
            control_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await control_task
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "scenario":
            args.scenario = load_scenario(args.file)
        sim = _build(args)
        faults = [parse_fault(text) for text in args.fault]
        for spec in faults:
            _fault_everywhere(_halls(sim), spec, apply=False)
        if args.command == "district" and args.write_configs is not None:
            from firmware_sim.district import write_configs

            host, port = args.broker
            configs = sim.gateway_configs((host, port, args.mqtt_protocol), args.api_port_base)  # type: ignore[union-attr]
            paths = write_configs(args.write_configs, configs)
            print(
                f"wrote {len(paths)} gateway configurations to {args.write_configs}/ "
                f"(start each with: hallgate run -c {paths[0]})",
                flush=True,
            )
        rc = asyncio.run(_run(sim, args, faults))
    except (HallConfigError, FaultError, ScenarioError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return rc
