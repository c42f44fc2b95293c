"""`hallgate district-auth -c district.yaml --out DIR`: the district store's vmauth configuration and
the district broker's password file and ACL, one user per site (gateway/district/auth.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.config.errors import ConfigError, print_problems

SECRET_FILES = ("vmauth.yml", "district-broker.passwd")  # they hold passwords or their hashes


def register(sub: Any) -> None:
    p = sub.add_parser(
        "district-auth", help="the district store's vmauth and the district broker's users, one per site"
    )
    p.add_argument("-c", "--config", required=True, help="district.yaml")
    p.add_argument("--out", required=True, help="folder to write vmauth.yml, district-broker.passwd and .acl into")
    p.set_defaults(fn=cmd_district_auth)


def cmd_district_auth(args: argparse.Namespace) -> int:
    from gateway.district.auth import DistrictAuthError, auth_files
    from gateway.district.config import load_district

    try:
        cfg = load_district(args.config)
        files = auth_files(cfg)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 1
    except DistrictAuthError as e:
        return print_problems("hallgate: 区级凭据配置有误 (district_auth_invalid):", e.problems)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out / name
        mode = 0o600 if name in SECRET_FILES else 0o644
        path.touch(mode=mode)
        path.chmod(mode)  # before the secrets go in, whatever the file was
        path.write_text(text, encoding="utf-8")
        print(f"hallgate: 已写入 (written) {path}")
    print(f"hallgate: {len(cfg.sites)} 个站点用户 (site users): 只写本站数据 (write only, labelled site=<id>)")
    return 0
