"""`python -m firmware_sim`: run simulated device firmware (one device, a hall, a district).

The gateway's `hallgate sim ...` delegates here: `main(argv)` returns the exit status. The options
are firmware_sim/cli_args.py; what it prints while running, firmware_sim/status_line.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from typing import Any

from firmware_sim import queue_cli
from firmware_sim.cli_args import build_parser
from firmware_sim.control import ControlChannel, HttpControl
from firmware_sim.faults import FaultError, parse_fault
from firmware_sim.hall import DistrictSimulator, HallSimulator
from firmware_sim.hall_file import HallConfigError
from firmware_sim.kinds.registry import KINDS
from firmware_sim.mqtt_device import DEFAULT_STATE
from firmware_sim.mqtt_session import MqttSettings
from firmware_sim.scenario import ScenarioError, ScenarioRunner, load_scenario
from firmware_sim.status_line import StatusLine


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


def _fault_everywhere(halls: list[HallSimulator], spec: dict[str, Any], apply: bool) -> list[str]:
    """Check or apply a fault in every hall; one naming devices goes to the halls that have them
    (in a district, device ids carry their site's suffix), and is an error only if none has."""
    wanted = spec.get("device")
    if wanted is not None:
        ids = {wanted} if isinstance(wanted, str) else set(wanted)
        missing = ids - {d for h in halls for d in h.devices}
        if missing:
            raise FaultError(
                f"没有这台设备 (unknown_device): {', '.join(sorted(missing))}; "
                f"现有的设备: {'; '.join(h.faults.by_kind() for h in halls)}",
                "unknown_device",
            )
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
            print(f"已启动 {sum(len(h.devices) for h in halls)} 台模拟设备 (started)：", flush=True)
            for line in sim.describe():
                print(line, flush=True)
            if args.control:
                channel = ControlChannel(host, port, {h.site: h.faults for h in halls}, args.mqtt_protocol)
                control_task = asyncio.create_task(channel.run(), name="sim-control")
                print(
                    f"故障注入 (faults)：向 {host}:{port} 的 sim/{{site}}/{{device|all}}/control 发布 JSON", flush=True
                )
            if args.http_control is not None:
                http = HttpControl("127.0.0.1", args.http_control, {h.site: h.faults for h in halls})
                await http.start()
                print(f"HTTP 故障注入 (faults over HTTP)：POST http://127.0.0.1:{http.port}/faults", flush=True)
            online, total, error = await _connected(halls, args.connect_timeout, stop)
            if total and online == 0 and not stop.is_set():
                print(
                    f"错误 (broker_unreachable)：{args.connect_timeout:g} 秒内没有一台 MQTT 设备连上代理 {host}:{port}"
                    + (f"（最近的错误：{error}）" if error else "")
                    + "；代理在运行吗？（--broker HOST:PORT）",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            if online < total:
                print(
                    f"警告 (warning)：{total} 台 MQTT 设备中目前只有 {online} 台在线（最近的错误：{error}）", flush=True
                )
            for spec in faults:
                ids = _fault_everywhere(halls, spec, apply=True)
                print(f"故障 {spec.get('fault')} (fault)：{', '.join(ids) or '没有设备'}", flush=True)
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
                    f"场景 (scenario) {args.file}：{len(runner.plan)} 个动作，{runner.day_clock(0)}-"
                    f"{runner.day_clock(runner.length_s)}，{runner.speed:g} 倍速（{runner.length_s:.0f} 秒）",
                    flush=True,
                )
                play = asyncio.create_task(runner.run(), name="scenario")
                play.add_done_callback(lambda _: stop.set())
            until_end = "，到这一天结束" if play else "，按 Ctrl-C 停止"
            print("运行中 (running)" + (f"，共 {args.duration} 秒" if args.duration else until_end), flush=True)
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
            print("正在停止 (stopping)", flush=True)
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fault"]:  # a client of running simulators, with the fault's own --parameters
        from firmware_sim import fault_cli

        return fault_cli.main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "district" and args.store:
        from firmware_sim import district_load

        return district_load.main(args)
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
                f"已写入 {len(paths)} 份网关配置到 {args.write_configs}/（逐个启动：hallgate run -c {paths[0]}）",
                flush=True,
            )
        rc = asyncio.run(_run(sim, args, faults))
    except (HallConfigError, FaultError, ScenarioError) as e:
        print(f"错误 (error)：{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已停止 (stopped)", flush=True)
        return 0
    except (OSError, RuntimeError) as e:
        print(f"错误 (error)：{e}", file=sys.stderr)
        return 1
    print("已停止 (stopped)", flush=True)
    return rc
