"""`hallgate sim fault`: send one fault to running simulators over their control channel and print
the answer (a `hallgate demo`, or any `hallgate sim ...` started without --no-control).

    hallgate sim fault jam --device lb-1f --slot 3
    hallgate sim fault offline --device pc-entrance --broker 127.0.0.1:1884
    hallgate sim fault flaky --kind rating_pad --share 0.2 --loss 0.5 --for-s 60

The fault's own parameters are `--name value` or `name=value` (see firmware_sim/faults.py); the
request is published to `sim/{site}/{device|all}/control` and the simulator's answer read from
`sim/{site}/control/result`. Exit 0 when applied, 2 when the simulator refused it (its Chinese
message and code), 1 when no simulator answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiomqtt
import yaml

from firmware_sim.control import control_topic, result_topic

USAGE = "hallgate sim fault NAME [--device ID ...] [--kind K] [--share X] [--for-s S] [--PARAM VALUE ...]"
EXAMPLES = """示例 (examples):
  hallgate sim fault jam --device lb-1f --slot 3          门锁柜 lb-1f 的 3 号格锁卡住 (下次开锁时报 lock_fault)
  hallgate sim fault offline --device pc-entrance         客流计数器断线 (Modbus 不再应答)
  hallgate sim fault garbage --device rp-w03 --type bad_json --count 5
  hallgate sim fault duplicated_day --device qs-hall      排队叫号系统重启, 当天从 A001 重新取号
  hallgate sim fault clear --device lb-1f                 结束这台设备的所有故障
  hallgate sim fault leave-post --staff S0003 --cover S0004 --minutes 20   W02 的张伟 20 分钟前离岗 (离岗超时)
  hallgate sim fault phone-out --device lb-1f --slot 6 --minutes 10        6 号格的手机 10 分钟前被取出 (违规使用手机)

参数写成 --名称 值 或 名称=值; 每种故障的参数见 README "Simulators" 与 firmware_sim/faults.py。
"""
# the options of the command itself; any other --name value is a parameter of the fault
OWN = {"--broker", "--site", "--device", "--kind", "--share", "--for-s", "--timeout"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hallgate sim fault",
        usage=USAGE,
        description="向运行中的模拟器 (hallgate demo 或 hallgate sim ...) 的控制通道发一个故障, 并打印它的应答。",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="故障名, 如 jam, offline, lens_blocked, garbage, clear")
    p.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT", help="代理 (默认 127.0.0.1:1883)")
    p.add_argument("--site", default="demo-hall", help="站点 (默认 demo-hall)")
    p.add_argument("--device", action="append", metavar="ID", help="设备编号 (可重复; 不给: 支持该故障的所有设备)")
    p.add_argument("--kind", help="只对这一类设备, 如 rating_pad")
    p.add_argument("--share", type=float, metavar="X", help="这一比例 (0-1) 的设备, 按种子选")
    p.add_argument("--for-s", type=float, metavar="S", help="S 秒后自动结束")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="等应答的秒数 (默认 5)")
    return p


def split(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The command's own arguments, and the fault's parameters (`--slot 3` or `slot=3`, YAML scalars)."""
    own: list[str] = []
    params: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, inline = arg.partition("=")
        if arg.startswith("--") and flag not in OWN and arg not in ("--help",):
            key = flag[2:].replace("-", "_")
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise ValueError(f"参数 {arg} 缺少值 (missing_value)")
            params[key] = yaml.safe_load(value)
        elif not arg.startswith("-") and eq:  # name=value
            params[flag] = yaml.safe_load(inline)
        else:
            own.append(arg)
        i += 1
    return own, params


def request_of(args: argparse.Namespace, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The control topic's device part and the JSON request."""
    request: dict[str, Any] = {"fault": args.name.replace("-", "_"), **params}  # leave-post is leave_post
    for key in ("kind", "share", "for_s"):
        if getattr(args, key) is not None:
            request[key] = getattr(args, key)
    devices = args.device or []
    if len(devices) == 1:
        return devices[0], request
    if devices:
        request["device"] = devices
    return "all", request


async def send(host: str, port: int, site: str, device: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Publish the request and wait for the simulator's answer to it (TimeoutError: none came)."""
    async with aiomqtt.Client(
        host, port, identifier=f"hallgate-sim-fault-{os.getpid()}", protocol=aiomqtt.ProtocolVersion.V311, timeout=5
    ) as client:
        await client.subscribe(result_topic(site), qos=1)  # before the request: its answer is not retained
        await client.publish(control_topic(site, device), json.dumps(request, ensure_ascii=False), qos=1)
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                try:
                    answer = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                except ValueError:
                    continue
                if isinstance(answer, dict) and answer.get("request") == request:
                    return answer
    raise TimeoutError


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        own, params = split(argv)
    except ValueError as e:
        parser.error(str(e))
    args = parser.parse_args(own)
    host, _, port = args.broker.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--broker 应为 HOST:PORT (bad_broker), 不是 {args.broker!r}")
    device, request = request_of(args, params)
    try:
        answer = asyncio.run(send(host, int(port), args.site, device, request, args.timeout))
    except TimeoutError:
        print(
            f"没有模拟器应答 (no_answer): 站点 {args.site} 在 {args.broker} 上 {args.timeout:g} 秒内无人应答; "
            "hallgate demo 或 hallgate sim 在运行吗? (--broker 是它的 MQTT 端口, --site 是它的站点; "
            "hallgate sim 不能带 --no-control)",
            file=sys.stderr,
        )
        return 1
    except aiomqtt.MqttError as e:
        print(f"连不上代理 (broker_unreachable) {args.broker}: {e}", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"错误: {answer.get('error')}", file=sys.stderr)  # the message carries its code
        return 2
    devices = ", ".join(answer.get("devices") or []) or "没有设备 (no device)"
    print(f"已注入故障 (applied) {answer.get('fault')}: {devices}")
    return 0
