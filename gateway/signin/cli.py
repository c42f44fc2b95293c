"""`hallgate user add|passwd|disable|enable|list -c FILE`: the hall's named accounts, without a
web page. Works on the state database named by the configuration (store.state_path), also while
the gateway runs: a disabled account's sessions end at once, the gateway sees it at the next
request."""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.signin import passwords
from gateway.store.repos.accounts import AccountExists, Accounts
from gateway.store.repository import SchemaError, migrate
from gateway.store.sqlite import SqliteFile, connect_wal

# The roles of people who sign in (a kiosk and the wall's viewer are machines with tokens).
PERSON_ROLES = ("technician", "staff", "duty_manager", "manager", "admin")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("user", help="named accounts for the pages: add, passwd, disable, enable, list")
    users = p.add_subparsers(dest="user_command", required=True)

    def command(name: str, help: str, fn: Callable[[argparse.Namespace, Accounts], int], named: bool = True) -> None:
        q = users.add_parser(name, help=help)
        q.add_argument("-c", "--config", required=True, help="hall configuration (YAML)")
        if named:
            q.add_argument("name", help="sign-in name (e.g. wang.fang)")
        q.set_defaults(fn=lambda args: _with_accounts(args, fn))
        if name in ("add", "passwd"):
            q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if name == "add":
            q.add_argument("--role", required=True, choices=PERSON_ROLES)
            q.add_argument(
                "--person", help="the person's name as the pages show it (e.g. 王芳); default: the sign-in name"
            )
            q.add_argument("--staff-id", help="staff accounts: the person's staff id (registry): their own ledger")

    command("add", "add an account (asks for its password)", _add)
    command("passwd", "set an account's password (its sessions end)", _passwd)
    command("disable", "disable an account (its sessions end at once)", _switch(True))
    command("enable", "enable a disabled account", _switch(False))
    command("list", "list the accounts", _list, named=False)


def _with_accounts(args: argparse.Namespace, fn: Callable[[argparse.Namespace, Accounts], int]) -> int:
    from gateway.config.errors import ConfigError
    from gateway.config.load import load_config

    try:
        cfg = load_config(args.config, require_secrets=False)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    path = cfg.store.state_file
    args.zone = ZoneInfo(cfg.timezone)  # times are shown in the hall's
    args.staff_ids = {p.id for p in cfg.staff}  # a staff account's --staff-id must be one of them
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect_wal(SqliteFile.of(path, "state database", logs=False), synchronous="FULL", busy_timeout_ms=5000)
    except (OSError, sqlite3.Error) as e:
        print(f"hallgate: 无法打开状态数据库 (state_db_unwritable) {path}: {e}", file=sys.stderr)
        return 1
    try:
        migrate(conn, [Accounts], f"state database {path}")
        return fn(args, Accounts(conn))
    except (SchemaError, sqlite3.Error) as e:
        print(f"hallgate: 状态数据库无法使用 (state_db_unwritable) {path}: {e}", file=sys.stderr)
        return 1
    finally:
        conn.close()


def _role(role: str) -> str:
    from gateway.i18n.catalogue import labels

    return labels().get("role", {}).get(role, role)


def _password(args: argparse.Namespace) -> str | None:
    """The new password, checked; None (and why, printed) when it will not do."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("密码 (password): ")
        if getpass.getpass("再输一次 (again): ") != password:
            print("hallgate: 两次输入的密码不一致，未修改 (passwords_differ)", file=sys.stderr)
            return None
    if (problem := passwords.password_problem(password)) is not None:
        print(f"hallgate: {problem} (weak_password)", file=sys.stderr)
        return None
    return password


def _name(args: argparse.Namespace) -> str | None:
    name = passwords.normal_name(args.name)
    if (problem := passwords.name_problem(name)) is not None:
        print(f"hallgate: {problem} (bad_name)", file=sys.stderr)
        return None
    return name


def _no_such(name: str) -> int:
    print(f"hallgate: 没有账号 {name} (unknown_account)；用 hallgate user list 查看", file=sys.stderr)
    return 1


def _add(args: argparse.Namespace, accounts: Accounts) -> int:
    name = _name(args)
    if name is None:
        return 1
    if accounts.account(name) is not None:
        print(f"hallgate: 账号 {name} 已存在 (account_exists)；改密码用 hallgate user passwd", file=sys.stderr)
        return 1
    staff_id = (args.staff_id or "").strip() or None
    if staff_id is not None and (args.role != "staff" or staff_id not in args.staff_ids):
        why = "只有窗口工作人员的账号关联工号" if args.role != "staff" else "人员名册中没有这个工号"
        print(f"hallgate: {why} (unknown_staff)：--staff-id {staff_id}", file=sys.stderr)
        return 1
    password = _password(args)
    if password is None:
        return 1
    person = (args.person or name).strip()
    try:
        accounts.add(name, person, args.role, passwords.hash_password(password), staff_id)
    except AccountExists:
        print(f"hallgate: 账号 {name} 已存在 (account_exists)", file=sys.stderr)
        return 1
    print(f"hallgate: 已添加账号 {name}（{person}，{_role(args.role)}）(added)")
    return 0


def _passwd(args: argparse.Namespace, accounts: Accounts) -> int:
    name = passwords.normal_name(args.name)
    if accounts.account(name) is None:
        return _no_such(name)
    password = _password(args)
    if password is None:
        return 1
    accounts.set_hash(name, passwords.hash_password(password))
    print(f"hallgate: 已修改 {name} 的密码，其登录会话已全部结束 (password_set)")
    return 0


def _switch(disabled: bool) -> Callable[[argparse.Namespace, Accounts], int]:
    """`disable` (its sessions end at once) or `enable`."""
    said = "已停用账号 {name}，其登录会话已全部结束 (disabled)" if disabled else "已启用账号 {name} (enabled)"

    def switch(args: argparse.Namespace, accounts: Accounts) -> int:
        name = passwords.normal_name(args.name)
        if not accounts.set_disabled(name, disabled):
            return _no_such(name)
        print(f"hallgate: {said.format(name=name)}")
        return 0

    return switch


def _list(args: argparse.Namespace, accounts: Accounts) -> int:
    rows = accounts.accounts()
    if not rows:
        print(
            f"hallgate: 还没有账号 (no_accounts)；添加第一个：hallgate user add -c {args.config} --role admin <登录名>"
        )
        return 0
    print("登录名\t姓名\t角色\t状态\t会话\t修改时间")
    for a in rows:
        state = "已停用" if a.disabled else "正常"
        changed = datetime.fromtimestamp(a.changed_ns / 1e9, args.zone).strftime("%Y-%m-%d %H:%M")
        print(f"{a.name}\t{a.display}\t{_role(a.role)}\t{state}\t{accounts.sessions_of(a.name)}\t{changed}")
    return 0
