"""`hallgate sim queue`: a day at the queue system (排队叫号), optionally with a rating pad per window.

Kept out of firmware_sim/cli.py and cli_args.py (which only add the parser and wait for the day to end).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from firmware_sim.hall import HallSimulator
from firmware_sim.hall_file import HallConfigError
from firmware_sim.kinds.queue import QueueSystem

EXAMPLES = """示例 (examples):
  hallgate sim queue --full-speed --windows 30 --tickets 3000 --date 2026-12-07 --pads
  hallgate sim queue --speed 60 --site demo-hall --id q-1 --broker 127.0.0.1:1883
  hallgate sim queue --full-speed --fault duplicated_day:device=q-1

事件发布到 hall/{site}/queue/{id}/event (issued, called, started, finished, transferred, no_show),
保留快照 (retained snapshot) 发布到 hall/{site}/queue/{id}/snapshot。带 --pads 时每个窗口一个评价器,
办结 (finished) 的办件编号 (case_id) 与评价器的评价相同。一天播完后自动停止。
"""


def _date(text: str) -> str:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD (bad_date): {text!r}") from None
    return text


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"应为正数 (not_positive): {text!r}")
    return value


def add_parser(
    sub: Any,
    common: Callable[[argparse.ArgumentParser], None],
    device_id: Callable[[str], str],
    site: Callable[[str], str],
) -> None:
    p = sub.add_parser(
        "queue",
        help="排队叫号系统: 模拟一整天 (取号、叫号、办结、转办、过号), 可带评价器",
        description="排队叫号系统 (queue) 模拟: 按种子生成真实的一天 (上午与午后高峰、按事项的办理时长、"
        "5-10% 预约、过号、转办、午休关窗), 以实时、倍速或全速发布。",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--site", default="demo-hall", type=site, help="主题中的站点 (默认 demo-hall)")
    p.add_argument("--id", default="q-1", type=device_id, help="设备编号 (默认 q-1)")
    p.add_argument("--windows", type=int, default=30, metavar="N", help="窗口数 W01..WNN (默认 30)")
    p.add_argument("--tickets", type=int, default=3000, metavar="N", help="当天取号数 (默认 3000)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_positive, default=60.0, metavar="X", help="时间倍速, 1 = 实时 (默认 60)")
    pace.add_argument("--full-speed", action="store_true", help="全速: 代理 (broker) 确认多快就发多快 (QoS 1)")
    p.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="模拟的日期 (默认今天)")
    p.add_argument(
        "--start",
        metavar="HH:MM|now",
        help="从当天这一时刻开始发布 (之前的事件不发布, 只计入快照); now = 现在 (默认: 从开门开始)",
    )
    p.add_argument("--pads", action="store_true", help="每个窗口一个评价器, 由同一批办件驱动")
    common(p)
    p.set_defaults(rate=0.0)  # the day drives the pads


def build(args: argparse.Namespace, settings: dict[str, Any]) -> HallSimulator:
    if not 1 <= args.windows <= 999:
        raise HallConfigError(f"--windows 应为 1-999 (bad_windows), 不是 {args.windows}")
    options: dict[str, Any] = {
        "windows": args.windows,
        "tickets": args.tickets,
        "speed": "full" if args.full_speed else args.speed,
    }
    if args.date:
        options["date"] = args.date
    if args.start:
        options["start"] = args.start
    devices: list[dict[str, Any]] = [{"id": args.id, "kind": "queue", "sim": options}]
    if args.pads:
        devices += [
            {"id": f"rp-w{n:02d}", "kind": "rating_pad", "window": f"W{n:02d}"} for n in range(1, args.windows + 1)
        ]
    sim = HallSimulator({"site": args.site, "devices": devices}, **settings)
    queue: QueueSystem = sim.device(args.id)
    plan = queue.plan
    pace = "全速 (full speed)" if args.full_speed else f"{args.speed:g} 倍速"
    print(
        f"排队叫号: {queue.config.day} {len(queue.config.windows)} 个窗口, {queue.config.tickets} 张票, "
        f"{len(plan.events)} 个事件, {pace}" + (f", {args.windows} 个评价器" if args.pads else ""),
        flush=True,
    )
    return sim


async def until_day_over(sim: HallSimulator) -> None:
    """Wait until every queue system of the hall played its day and the broker has every event."""
    for device in sim.mqtt_devices:
        if isinstance(device, QueueSystem):
            await device.day_done.wait()
            await device.wait_sent(timeout=600)
            print(
                f"一天已播完 (day_done): {device.device_id} {len(device.plan.events)} 个事件, "
                f"{device.ratings} 次评价提示",
                flush=True,
            )
    for device in sim.mqtt_devices:  # the pads' ratings too
        await device.wait_sent(timeout=600)
