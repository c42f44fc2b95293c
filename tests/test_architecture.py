"""The house's rules, read from the code's own imports (every import statement, at module level,
inside functions and under TYPE_CHECKING alike): no cycle between modules, a pure domain, drivers
that know no gateway room but the shared vocabulary, and kind names only inside the kinds.

Where today's code still breaks a rule, the exception is listed here by name, and a listed
exception that no longer holds fails too, so each list only shrinks.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from gateway.kinds.registry import KINDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "drivers", "firmware_sim")

# Import cycles still to be broken (each a set of modules); none today.
KNOWN_CYCLES: set[frozenset[str]] = set()

# Files outside gateway/kinds/ that still name a kind (issue 20 moved what they held for a kind
# into its package): none.
KIND_NAMED_OUTSIDE: set[str] = set()

# What the pure domain may not import: I/O, the network, the event loop, the web layer.
IO_MODULES = {
    "asyncio",
    "socket",
    "ssl",
    "sqlite3",
    "subprocess",
    "threading",
    "multiprocessing",
    "selectors",
    "http",
    "urllib",
    "requests",
    "httpx",
    "aiomqtt",
    "paho",
    "pymodbus",
    "serial",
    "fastapi",
    "starlette",
    "uvicorn",
    "influxdb_client",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every dotted name one file imports, relative imports resolved."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def ours(dotted: str) -> str | None:
    """The module of ours a dotted name is (or lies in), if any."""
    mods = modules()
    while dotted and dotted not in mods:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


@cache
def graph() -> dict[str, frozenset[str]]:
    edges: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        deps = {m for d in imported_names(name, path) if (m := ours(d))}
        # Importing a module runs its packages' __init__ first: those are edges too.
        deps |= {".".join(m.split(".")[:i]) for m in set(deps) for i in range(1, m.count(".") + 1)}
        deps -= {name, *(".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1))}
        edges[name] = frozenset(deps & modules().keys())
    return edges


def cycles(edges: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_cycle_of_three_and_ignores_a_chain() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert cycles(edges) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_function_level_and_type_checking_imports_count_as_edges(tmp_path: Path) -> None:
    """A cycle hidden by an import inside a function (me.py once imported app.py that way) or
    under TYPE_CHECKING is still a cycle."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gateway.config import HallConfig\n"
        "def f():\n    from .sibling import thing\n"
    )
    names = set(imported_names("gateway.api.routes.m", source))
    assert {"gateway.config.HallConfig", "gateway.api.routes.sibling.thing"} <= names


def test_no_import_cycle_between_modules() -> None:
    found = set(cycles(graph()))
    assert found - KNOWN_CYCLES == set(), f"new import cycles: {[sorted(c) for c in found - KNOWN_CYCLES]}"
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_the_domain_imports_no_io_and_no_other_room() -> None:
    bad = []
    for name, path in modules().items():
        if not name.startswith("gateway.domain"):
            continue
        for dotted in imported_names(name, path):
            top = dotted.split(".")[0]
            if top in IO_MODULES or (ours(dotted) and not ours(dotted).startswith("gateway.domain")):  # type: ignore[union-attr]
                bad.append(f"{path.relative_to(ROOT)}: {dotted}")
    assert bad == []


def test_drivers_know_no_gateway_room_but_the_vocabulary() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {m}"
        for name, path in modules().items()
        if name.startswith("drivers")
        for m in graph()[name]
        if m.startswith("gateway") and m not in ("gateway", "gateway.domain", "gateway.domain.canonical")
    ]
    assert bad == []


def names_a_kind(source: str, kinds: set[str]) -> bool:
    """Code names a kind by its name as a string (`kind == "attendance"`, `"queue"`) or as a name
    (`from gateway.kinds import queue`, `lockbox.KIND`); prose does not: a comment or a docstring
    may say "the alerts' durable queue" (a kind's name may be an everyday word)."""
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in kinds:
            return True
        literal = (
            re.fullmatch(r"""[rRbBuU]*("{3}|'{3}|"|')(\w+)\1""", tok.string) if tok.type == tokenize.STRING else None
        )
        if literal and literal.group(2) in kinds:
            return True
    return False


# A kind whose name is an ordinary word of the code's prose (the outbox "queues" records) is looked
# for in code only; every other kind's name may not appear at all, comments and docstrings included.
PROSE_WORDS = {"queue"}


def kind_named_outside() -> set[str]:
    strict = sorted(set(KINDS) - PROSE_WORDS)
    word = re.compile(r"\b(" + "|".join(map(re.escape, strict)) + r")\b")
    named = set()
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("gateway/kinds/"):
            continue
        text = path.read_text(encoding="utf-8")
        if word.search(text) or names_a_kind(text, set(KINDS) & PROSE_WORDS):
            named.add(rel)
    return named


def test_a_kind_named_in_code_is_found_and_in_prose_is_not() -> None:
    kinds = {"queue", "lockbox"}
    assert names_a_kind('if kind == "queue":\n    pass\n', kinds)
    assert names_a_kind("from gateway.kinds import lockbox\n", kinds)
    assert names_a_kind("x = lockbox.KIND\n", kinds)
    assert names_a_kind("x = ['lockbox', r\"queue\"]\n", kinds)
    assert not names_a_kind('"""The durable queue."""\n# queue it again\nx = f"not a queue event"\n', kinds)


def test_no_kind_is_named_outside_its_package() -> None:
    named = kind_named_outside()
    assert named - KIND_NAMED_OUTSIDE == set(), "these files name a kind: move what they do into gateway/kinds/"
    assert KIND_NAMED_OUTSIDE - named == set(), "these files no longer name a kind: remove them from the list"


def kind_literals(text: str) -> set[str]:
    """The kinds a page's text names as a string ("lockbox", 'lockbox', `lockbox`, id="lockbox")."""
    quoted = re.compile(r"""["'`](""" + "|".join(map(re.escape, KINDS)) + r""")["'`]""")
    return set(quoted.findall(text))


def test_the_pages_name_no_kind() -> None:
    """The built-in pages learn the kinds from GET /api/v1/kinds (label, page fragments): a page
    that picks devices by a kind's name breaks for a kind added as a package alone."""
    some = next(iter(KINDS))
    assert kind_literals(f"d.kind === \"{some}\" || id='{some}'") == {some}  # the check sees a literal
    assert kind_literals(f'"{some}s" "/api/v1/{some}/x"') == set()  # and only whole names
    pages = sorted(p for p in (ROOT / "dashboards" / "web").iterdir() if p.suffix in (".html", ".js"))
    assert {"hallgate.js", "staff.html", "tech.html"} <= {p.name for p in pages}
    named = {p.name: sorted(kind_literals(p.read_text(encoding="utf-8"))) for p in pages}
    assert {name: kinds for name, kinds in named.items() if kinds} == {}


def kind_package(module: str) -> str | None:
    """The kind whose package a module lies in (gateway.kinds.<kind>...), if any."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["gateway", "kinds"] and parts[2] in KINDS else None


def test_a_kind_package_imports_no_other_kind() -> None:
    """A kind reads another's projection through a read API (gateway/kinds/reads.py, `Kind.provides`),
    never by importing its package: the rating pads' 评价率 asks for `Visits`, whoever provides them."""
    assert kind_package("gateway.kinds.queue.store") == "queue" and kind_package("gateway.kinds.reads") is None
    crossing = [
        f"{m} -> {d}"
        for m, deps in graph().items()
        if (k := kind_package(m))
        for d in deps
        if (other := kind_package(d)) and other != k
    ]
    assert crossing == []


def by_name(source: str, kinds: set[str], projections: set[str]) -> list[str]:
    """Where code looks another kind up by its name: a string literal that is one of `kinds`
    (`d.kind == "attendance"`), or a projection asked for by a kind's or a projection's name
    (`view.projection("ratings")`). Prose is not code: a comment may say which kind provides a read."""
    found = [
        f"line {tok.start[0]}: {tok.string}"
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.STRING
        and (m := re.fullmatch(r"""[rRbBuU]*("{3}|'{3}|"|')(\w+)\1""", tok.string))
        and m.group(2) in kinds
    ]
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None))
            == "projection"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in kinds | projections
        ):
            found.append(f"line {node.lineno}: projection({node.args[0].value!r})")
    return found


def projection_names(kind: str) -> set[str]:
    """Its projections' names (`projection("ratings")` is the rating pads')."""
    return {getattr(p, "name", "") for p in KINDS[kind].projections}


def test_a_kind_looks_up_no_other_kind_by_name() -> None:
    """A kind reads what another provides through a read API (`Kind.provides`,
    `view.projections.reads(Presence)`), never by the other's name: the lockbox's phone compliance
    once asked `view.projection("attendance")`, which a kind providing presence otherwise misses."""
    kinds, projections = {"attendance"}, {"ratings"}
    assert by_name('if view.projection("attendance") is None:\n    pass\n', kinds, projections)
    assert by_name("p = projection('ratings')\n", kinds, projections)
    assert by_name('ok = d.kind == "attendance"\n', kinds, projections)
    assert not by_name('# from the attendance machines\nx = ["attendance_daily", "ratings"]\n', kinds, projections)
    bad = []
    for kind in KINDS:
        home = ROOT / "gateway" / "kinds" / kind
        mine = {kind} | projection_names(kind)
        kinds = set(KINDS) - mine
        projections = set().union(*(projection_names(k) for k in KINDS if k != kind)) - mine
        for path in sorted(home.rglob("*.py")) if home.is_dir() else []:
            text = path.read_text(encoding="utf-8")
            bad += [f"{path.relative_to(ROOT)} {hit}" for hit in by_name(text, kinds, projections)]
    assert bad == [], "read it through gateway/kinds/reads.py (Kind.provides), not by the other kind's name"


PAGE_NAMES = {"wall", "tech", "staff", "manager"}  # hallgate.js's PAGES


def test_every_page_fragment_a_kind_declares_is_a_script_in_its_package() -> None:
    """A kind brings its fragments (Kind.pages) in its own package: the script the pages load, and
    the routes it calls, each a route of the kind's own router that the fragment names."""
    bad = []
    for kind in KINDS.values():
        home = ROOT / "gateway" / "kinds" / kind.name
        for page, f in kind.pages.items():
            where = f"{kind.name} {page}: {f.name}"
            if page not in PAGE_NAMES:
                bad.append(f"{where}: no page {page!r}")
            if f.script.suffix != ".js" or not f.script.is_file() or not f.script.resolve().is_relative_to(home):
                bad.append(f"{where}: {f.script} is no script file in {home.relative_to(ROOT)}")
            if not set(f.needs) <= set(f.routes):
                bad.append(f"{where}: needs {sorted(set(f.needs) - set(f.routes))}, which are not among its routes")
            unknown = set(f.routes.values()) - kind_routes(kind.name)
            if unknown:
                bad.append(f"{where}: {sorted(unknown)} are not routes of its kind")
    assert bad == []
    assert any(k.pages for k in KINDS.values())  # the check has something to check


def kind_routes(name: str) -> set[str]:
    """A kind's routes as GET /api/v1/me's `may` spells them: "GET /api/v1/lockboxes/{device}/slots"."""
    from fastapi import FastAPI

    from gateway.api.deps import api_routes

    if KINDS[name].router is None:
        return set()
    module, _, attribute = KINDS[name].router.partition(":")  # type: ignore[union-attr]
    app = FastAPI()
    app.include_router(getattr(importlib.import_module(module), attribute), prefix="/api/v1")
    return {f"{method} {path}" for path, methods, _ in api_routes(app) for method in methods}


# Pages that still call a kind's routes by path (issue 20: each card moves into its kind's package
# as a fragment, as the slot and door grids and the queue's screens did): page -> those paths.
KIND_ROUTES_IN_PAGES = {}


def kind_route_roots() -> set[str]:
    """The first part of every kind's route ("/api/v1/lockboxes"), which no other route starts with."""
    return {"/".join(r.split(" ")[1].split("/")[:4]) for k in KINDS for r in kind_routes(k)}


def test_the_pages_call_no_kind_route_by_path() -> None:
    """A kind's routes are called by its fragments (its package), which the pages load: a page that
    calls one by path does not follow the kind (a hall without it, a kind added as a package)."""
    roots = kind_route_roots()
    assert {"/api/v1/lockboxes", "/api/v1/queue"} <= roots  # the check knows the kinds' routes
    assert "/api/v1/devices" not in roots and "/api/v1/kinds" not in roots  # and only theirs
    named = {}
    for page in sorted((ROOT / "dashboards" / "web").glob("*.*")):
        text = page.read_text(encoding="utf-8")
        found = {root for root in roots if re.search(re.escape(root) + r"(?![\w-])", text)}
        if found:
            named[page.name] = found
    assert named == KIND_ROUTES_IN_PAGES, "move the card into its kind's package (a fragment), then shrink the list"
