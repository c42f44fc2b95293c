"""The `hallgate` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from gateway import allocator, lean, logformat
from gateway.config.errors import ConfigError, print_problems
from gateway.config.secrets import missing_secrets


def _run_until_signal(main: Coroutine[Any, Any, None]) -> int:
    """Run until Ctrl-C or SIGTERM, then let everything shut down cleanly."""

    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    from gateway.runtime import StartupError

    try:
        asyncio.run(runner())
    except StartupError as e:
        print(f"hallgate: {e}", file=sys.stderr)
        return 1
    print("hallgate: 已停止 (stopped)", file=sys.stderr)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from gateway.devices import load_hall

    try:
        cfg, devices = load_hall(args.file, require_secrets=False)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    kinds: dict[str, int] = {}
    for d in devices.values():
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    print(
        f"{args.file}：配置无误 (ok)：站点 {cfg.site}，{len(cfg.zones)} 个区域，{len(devices)} 台设备"
        f"（{'，'.join(f'{k} {n} 台' for k, n in sorted(kinds.items()))}），"
        f"代理 {cfg.broker.host}:{cfg.broker.port}，influx {cfg.influx.api}，API 端口 {cfg.api.port}"
        + (f"，{cfg.ingest.workers} 个接入进程" if cfg.ingest.workers > 1 else "")
    )
    for path, msg in missing_secrets(cfg, os.environ):
        print(f"  提示 (note)：{path}：{msg}，再运行 hallgate run")
    return 0


def cmd_staff_import(args: argparse.Namespace) -> int:
    """The staff registry from a sheet, merged into the hall file once the whole file validates."""
    import tempfile
    from pathlib import Path

    from gateway.config import staff_import as si
    from gateway.config.load import load_config

    hall = Path(args.config)
    try:
        imported = si.parse(Path(args.file))
    except si.ImportError_ as e:
        print(e, file=sys.stderr)
        return 1
    except (OSError, ModuleNotFoundError) as e:
        print(f"{args.file}：无法读取（{e}）", file=sys.stderr)
        return 1
    text = hall.read_text(encoding="utf-8")
    entries = si.merged(si.existing_entries(text), imported)
    new = si.replace_section(text, si.section(entries))
    # Checked as the gateway would read it (unknown windows, a slot given twice...) before writing.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=hall.parent, encoding="utf-8", delete=False) as f:
        f.write(new)
    try:
        load_config(f.name, require_secrets=False)
    except ConfigError as e:
        print(f"导入后配置文件有错误，未写入 {hall}：\n{e.render()}", file=sys.stderr)
        return 1
    finally:
        os.unlink(f.name)
    hall.write_text(new, encoding="utf-8")
    print(f"{hall}：已导入 {len(imported)} 人，staff 共 {len(entries)} 人")
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    from gateway.broker_bridge import BRIDGE_NAME, bridge_files
    from gateway.broker_config import (
        ACL_NAME,
        CONF_NAME,
        BrokerConfigError,
        Hall,
        password_commands,
        render_acl,
        render_conf,
    )
    from gateway.devices import load_hall

    halls = []
    try:
        for path in args.config:
            cfg, devices = load_hall(path, require_secrets=False)
            halls.append(Hall(cfg, devices))
        files = {CONF_NAME: render_conf(halls), ACL_NAME: render_acl(halls)}
        # The bridge's password only into a file; printed, a placeholder.
        files |= bridge_files([h.cfg for h in halls], secrets=args.out is not None)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    except BrokerConfigError as e:
        return print_problems("hallgate: 代理配置有误 (broker_config_invalid):", e.problems)
    if args.out is None:
        for name, text in files.items():
            print(f"# ==== {name} ====\n{text}")
        return 0
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        if name == BRIDGE_NAME:
            (out / name).chmod(0o600)
    users = password_commands(halls)
    print(f"hallgate: 已写入 (written) {out / CONF_NAME} (-> /etc/mosquitto/conf.d/)")
    print(f"hallgate: 已写入 (written) {out / ACL_NAME} (-> /etc/mosquitto/)")
    for name in sorted(files.keys() - {CONF_NAME, ACL_NAME}):
        where = (
            "/etc/mosquitto/conf.d/, 含密码 (holds the password)"
            if name == BRIDGE_NAME
            else "区级代理 ACL (the district broker's ACL)"
        )
        print(f"hallgate: 已写入 (written) {out / name} (-> {where})")
    print(f"hallgate: {len(users)} 个代理用户 (broker users); 密码文件 (password file), each asks for its password:")
    for line in users:
        print(f"  {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.devices import load_hall
    from gateway.runtime import start_gateway

    try:
        cfg, _ = load_hall(args.config)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1

    async def main() -> None:
        async with start_gateway(cfg) as gw:
            print(
                f"hallgate：站点 {cfg.site}，{len(gw.devices)} 台设备；API 地址 http://{cfg.api.host}:{cfg.api.port}",
                flush=True,
            )
            await asyncio.Event().wait()

    return _run_until_signal(main())


def cmd_district(args: argparse.Namespace) -> int:
    from gateway.district.serve import main as district_main

    return district_main(args.config, _run_until_signal)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import demo_main

    if not args.verbose:
        logging.getLogger("firmware_sim").setLevel(logging.WARNING)  # a line per simulated device

    return _run_until_signal(demo_main(args.api_port, args.mqtt_port, district=args.district))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hallgate")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Every command and its flags (`sim` hands its own arguments to firmware_sim.cli); the
    contract test (tests/test_api_contract.py) reads the names from here."""
    parser = argparse.ArgumentParser(prog="hallgate", description="Edge gateway for a government service hall.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--version", action="version", version=f"hallgate {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="a whole demo hall: embedded broker, simulated devices, gateway, API")
    p.add_argument("--api-port", type=int, default=8080)
    p.add_argument("--mqtt-port", type=int, default=1883)
    p.add_argument(
        "--district", metavar="URL", help="forward the demo's series to this district store (VictoriaMetrics)"
    )
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("run", help="run the gateway from a hall configuration file")
    p.add_argument("-c", "--config", required=True, help="hall configuration (YAML)")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("check-config", help="validate a hall configuration file")
    p.add_argument("file")
    p.set_defaults(fn=cmd_check_config)
    p = sub.add_parser(
        "broker-config", help="the site Mosquitto's configuration (users, ACL) from the hall configuration"
    )
    p.add_argument(
        "-c", "--config", required=True, action="append", help="hall configuration (YAML); again for each hall"
    )
    p.add_argument("--out", help="folder to write hallgate.conf and hallgate.acl into (default: print them)")
    p.set_defaults(fn=cmd_broker_config)
    p = sub.add_parser("district", help="the district's read-only API and pages over the district store and broker")
    p.add_argument("-c", "--config", required=True, help="district.yaml")
    p.set_defaults(fn=cmd_district)
    p = sub.add_parser("staff", help="the staff registry (hallgate staff import FILE -c hall.yaml)")
    staff = p.add_subparsers(dest="staff_command", required=True)
    p = staff.add_parser("import", help="merge a CSV/XLSX staff sheet into the hall file's staff section")
    p.add_argument("file", help="CSV or XLSX; first row: 工号, 姓名, 科室, 窗口, 岗位, 手机柜, 格口")
    p.add_argument("-c", "--config", required=True, help="hall configuration (YAML) to merge into")
    p.set_defaults(fn=cmd_staff_import)
    sub.add_parser("sim", help="firmware simulators (hallgate sim --help)")
    from gateway.signin.cli import register as register_user

    register_user(sub)
    from gateway.features.reports.cli import register as register_report

    register_report(sub)
    from gateway.district.auth_cli import register as register_district_auth

    register_district_auth(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    lean.skip_unused_imports()  # before anything imports httpx or FastAPI
    allocator.tune_malloc()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        from firmware_sim.cli import main as sim_main

        return sim_main(argv[1:])
    args = build_parser().parse_args(argv)
    logformat.setup(logging.DEBUG if args.verbose else logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # Their INFO lines are per connection and per state change: noise at a hall's scale.
        for name in ("transitions", "pymodbus", "uvicorn.error", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # The demo broker logs every client's disconnect at shutdown as an error; its real
        # failures reach the user as a StartupError.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
