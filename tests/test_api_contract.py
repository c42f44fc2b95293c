"""The contract others integrate against (/work/shared/api-contract.md, copied as docs/api-contract.md)
read as data: every command and flag of its CLI table against the `hallgate` parser, every route of
its HTTP table against the app's OpenAPI document (method, path, query parameters and their values,
body fields, the response fields it names) and against tests/test_roles.py's table (the roles it
names may call; test_roles asks a real gateway that the table is true). No servers: a route or a
flag the contract names that the product lost fails here in a second."""

from __future__ import annotations

import argparse
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.api.app import create_app
from gateway.cli import build_parser
from tests.test_roles import ANYONE, PUBLIC, READERS, TABLE

CONTRACT = Path(__file__).resolve().parent.parent / "docs" / "api-contract.md"
ROLE_NAMES = ("technician", "staff", "duty_manager", "manager", "admin", "kiosk", "viewer")


def _table(heading: str) -> list[list[str]]:
    """The rows (cells, without the header) of the first table after the heading that starts so."""
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not line.startswith("| ---"):
            # `\|` inside a cell is a bar of the text, not a column's edge.
            rows.append([c.strip().replace("\0", "|") for c in line.replace("\\|", "\0").strip("|").split("|")])
    return rows[1:]


# ---- the command line ----


def cli_rows() -> list[tuple[str, str]]:
    rows = []
    for cells in _table("## Command line"):
        command = re.findall(r"`([^`]*)`", cells[0])[0]
        rows.append((command, cells[0]))
    return rows


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


@pytest.mark.parametrize(("command", "cell"), cli_rows(), ids=[c for c, _ in cli_rows()])
def test_every_command_and_flag_of_the_contract_exists(command: str, cell: str) -> None:
    words = command.split()
    assert words[0] == "hallgate"
    sub = _subparser(build_parser(), words[1])
    assert sub is not None, f"`hallgate {words[1]}` is in the contract but not in the CLI"
    if words[1] == "sim":  # its own parser (firmware_sim.cli), reached through `hallgate sim`
        return
    options = {s for a in sub._actions for s in a.option_strings}
    named = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", command))
    assert named <= options, f"`{command}`: the CLI lacks {sorted(named - options)}"
    # A flag the command requires and the contract does not write would make its call fail.
    required = {a.option_strings[-1] for a in sub._actions if a.required and a.option_strings}
    missing = {f for f in required if not any(s in named for s in _aliases(sub, f))}
    assert not missing, f"`{command}`: the CLI requires {sorted(missing)}, which the contract does not pass"
    positionals = [a for a in sub._actions if not a.option_strings and a.required and a.nargs != "?"]
    written = [w for w in words[2:] if re.fullmatch(r"[A-Z]+", w)]
    assert len(positionals) <= len(written) or "..." in command, f"`{command}`: positional arguments differ"


def _aliases(sub: argparse.ArgumentParser, flag: str) -> list[str]:
    return next(a.option_strings for a in sub._actions if flag in a.option_strings)


# ---- the HTTP API ----


@cache
def spec() -> dict[str, Any]:
    # Every hall's API has the same paths and document (kind_routers: every registered kind's
    # routes, whether or not the hall has a device of it), so no gateway needs to run for it.
    app = create_app(SimpleNamespace(title="contract"), {"contract-token-0123456789abcdef": "manager"})  # type: ignore[arg-type]
    return app.openapi()


def _expand(path: str) -> list[str]:
    """`/x/{id}/{a,b}` -> `/x/{id}/a`, `/x/{id}/b`; `[.pdf|.xlsx]` suffixes dropped."""
    path = re.sub(r"\[[^\]]*\]", "", path)
    m = re.search(r"\{([^}]*,[^}]*)\}", path)
    if not m:
        return [path]
    return [p for alt in m.group(1).split(",") for p in _expand(path[: m.start()] + alt + path[m.end() :])]


def _match(path: str, method: str) -> tuple[str, dict[str, Any]] | None:
    """The OpenAPI path and operation that answer the contract's path: a `{name}` matches any
    parameter, a literal matches itself or a path parameter whose enum holds it."""
    want = path.strip("/").split("/")
    for candidate, ops in spec()["paths"].items():
        have = candidate.strip("/").split("/")
        op = ops.get(method.lower())
        if op is None or len(have) != len(want):
            continue
        params = {p["name"]: p["schema"] for p in op.get("parameters", []) if p["in"] == "path"}
        if all(_segment(w, h, params) for w, h in zip(want, have, strict=True)):
            return candidate, op
    return None


def _segment(want: str, have: str, params: dict[str, Any]) -> bool:
    if have.startswith("{"):
        enum = params.get(have.strip("{}"), {}).get("enum")
        return want.startswith("{") or enum is None or want in enum
    return want == have


def _roles(cell: str, method: str, path: str) -> set[str]:
    """The roles the `who` cell gives this method and path. "any role" is every role that reads
    (READERS); the wall's `viewer` only where the row names it (README, HTTP API: the viewer's link
    sits in the public hall, so it reads the public figures only)."""
    out: set[str] = set()
    for part in cell.split(";"):
        scoped = re.match(r"\s*(read|write|record|transitions):", part)
        scope, _, rest = part.partition(":") if scoped else ("", "", part)
        scope = scope.strip()
        if scope and (scope == "read") != (method == "GET"):
            continue
        for inner in re.findall(r"\(([^)]*)\)", rest):
            if inner.startswith("appeal:") and path.endswith("/appeal"):
                out |= {r for r in ROLE_NAMES if f"`{r}`" in inner}
            if "for `viewer`" in inner:
                out.add("viewer")
        outer = re.sub(r"\([^)]*\)", "", rest)
        if "anyone" in outer:
            out |= ANYONE
        if "any role" in outer:
            out |= READERS | ({"viewer"} if "but `viewer` for" in outer else set())
        outer = outer.split(" but ")[0]
        out |= {r for r in ROLE_NAMES if f"`{r}`" in outer}
    return out


def http_rows() -> list[tuple[str, str, str, str, str]]:
    """(method, path, query, who, what) for every route the contract names."""
    rows = []
    for cells in _table("## HTTP API"):
        for method, target in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) ([^`]+)`", cells[0]):
            path, _, query = target.partition("?")
            rows += [(method, p, query, cells[1], cells[2]) for p in _expand(path)]
    return rows


def _ids(rows: list[tuple[str, ...]]) -> list[str]:
    return [f"{r[0]} {r[1]}" for r in rows]


def _properties(schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> set[str]:
    """Every property name reachable from a schema (the fields of nested objects too)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        return _properties(spec()["components"]["schemas"][name], seen | {name})
    out = set(schema.get("properties", {}))
    children = [*schema.get("properties", {}).values(), *schema.get("anyOf", []), *schema.get("allOf", [])]
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        children.append(schema["additionalProperties"])
    for child in children:
        out |= _properties(child, seen)
    return out


def _body(op: dict[str, Any]) -> dict[str, Any]:
    return op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})


def _response(op: dict[str, Any]) -> dict[str, Any]:
    ok = op["responses"].get("200") or op["responses"].get("201") or {}
    return ok.get("content", {}).get("application/json", {}).get("schema", {})


@pytest.mark.parametrize(("method", "path", "query", "who", "what"), http_rows(), ids=_ids(http_rows()))
def test_every_route_of_the_contract_answers_as_written(
    method: str, path: str, query: str, who: str, what: str
) -> None:
    found = _match(path, method)
    assert found is not None, f"{method} {path} is in the contract but the API has no such route and method"
    openapi_path, op = found
    params = {p["name"]: p["schema"] for p in op.get("parameters", []) if p["in"] == "query"}
    for name, values in re.findall(r"([a-z_]+)=([^&]*)", query):
        assert name in params, f"{method} {path}: query parameter `{name}` missing (has {sorted(params)})"
        enums = [s.get("enum") for s in [params[name], *params[name].get("anyOf", [])] if s.get("enum")]
        for value in filter(None, values.split("|")):
            assert not enums or value in enums[0], f"{method} {path}: `{name}={value}` is not accepted"
    if method == "POST":
        for text in re.findall(r"body `(\{[^`]*\})`", who + " " + what):
            fields = set(re.findall(r'"([a-z_]+)"\s*(?=[:,}?])', text))
            missing = fields - _properties(_body(op))
            assert not missing, f"{method} {path}: the body lacks {sorted(missing)}"
    response = _properties(_response(op))
    if response:
        named = re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", what.split("body")[0]))
        named += re.findall(r'"([a-z_]+)":', what.split("body")[0])
        missing = {n for n in named if n not in ROLE_NAMES} - response
        assert not missing, f"{method} {path}: the answer lacks {sorted(missing)}"
    allowed = TABLE.get((method, openapi_path, ""))
    assert allowed is not None, f"{method} {openapi_path}: no row in tests/test_roles.py"
    wanted = _roles(who, method, path)
    assert wanted, f"{method} {path}: no roles read from {who!r}"
    assert wanted <= allowed, f"{method} {path}: the contract lets {sorted(wanted - allowed)} call it"


def test_the_contract_is_read_whole() -> None:
    """The parsing above would pass vacuously on a contract it no longer reads: it reads them all."""
    assert len(cli_rows()) == 8
    assert len(http_rows()) >= 39
    assert _roles("read: any role (masked for `viewer`); write: `admin`", "GET", "/api/v1/staff") == PUBLIC
    assert _roles("read: any role (masked for `viewer`); write: `admin`", "POST", "/api/v1/staff") == {"admin"}
