"""The catalogue as the API uses it: the gateway's entries (zh_CN.py) with every registered kind's
(`Kind.errors`, `Kind.labels`, from its package's words.py), and an error's message filled in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from gateway.i18n import zh_CN
from gateway.i18n.entry import Entry, fill
from gateway.kinds.base import Kind
from gateway.kinds.registry import KINDS

T = TypeVar("T")

# Specifics whose values are codes themselves: shown by their label (a role by its Chinese name).
VALUE_LABELS = {"role": "role", "roles": "role", "rule": "alert", "state": "alert_state"}


def errors() -> dict[str, Entry]:
    """Every error entry: a code (or `code/case`, a case of a code with its own words) -> Entry.
    Read on each call: a kind registered at run time brings its entries with it."""
    out = dict(zh_CN.ERRORS)
    for kind in KINDS.values():
        for code, entry in kind.errors.items():
            if code in out and out[code] != entry:
                raise ValueError(f"kind {kind.name}: error code {code!r} has another entry already")
            out[code] = entry
    return out


def labels() -> dict[str, dict[str, str]]:
    """group (role, severity, health, a kind's states...) -> value -> Chinese label."""
    out = {group: dict(values) for group, values in zh_CN.LABELS.items()}
    for kind in KINDS.values():
        for group, values in kind.labels.items():
            mine = out.setdefault(group, {})
            for value, text in values.items():
                if mine.get(value, text) != text:
                    raise ValueError(f"kind {kind.name}: {group} {value!r} has another label already")
                mine[value] = text
    return out


def _with_kinds(central: Mapping[str, T], part: Callable[[Kind], Mapping[str, T]], what: str) -> dict[str, T]:
    """A central table with every kind's part of it; a key two of them word differently is an error."""
    out = dict(central)
    for kind in KINDS.values():
        for key, value in part(kind).items():
            if out.get(key, value) != value:
                raise ValueError(f"kind {kind.name}: {what} {key!r} has other words already")
            out[key] = value
    return out


def page_words(central: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The pages' words (gateway/i18n/pages.py) with every kind's fragments' (`Kind.page_words`)."""
    return _with_kinds(central, lambda k: k.page_words, "page word")


def summaries() -> dict[str, Entry]:
    """What each health problem, offline reason and alert rule says: zh_CN.SUMMARIES with every
    kind's (`Kind.summaries`)."""
    return _with_kinds(zh_CN.SUMMARIES, lambda k: k.summaries, "summary")


def say(code: str, params: Mapping[str, Any], english: str) -> str:
    """A problem, offline reason or alert (gateway/domain/health.py `Say`) in Chinese, from its
    template with its specifics (a part by its label: `格口 3`); the English where none is known."""
    words, table = _said()
    entry = words.get(code)
    if entry is None:
        return english
    values = dict(params)
    if isinstance(values.get("part"), str):
        values["part"] = part_text(values["part"], table)
    return fill(entry.message, _shown(values, table))


# `say` words every device's problems on every tick: the merged tables once per set of kinds.
_SAID: dict[tuple[int, ...], tuple[dict[str, Entry], dict[str, dict[str, str]]]] = {}


def _said() -> tuple[dict[str, Entry], dict[str, dict[str, str]]]:
    key = tuple(map(id, KINDS.values()))
    if key not in _SAID:
        _SAID.clear()
        _SAID[key] = (summaries(), labels())
    return _SAID[key]


def label(group: str, value: str, table: Mapping[str, Mapping[str, str]] | None = None) -> str:
    return (table or labels()).get(group, {}).get(value, value)


def _shown(params: Mapping[str, Any], table: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    table = table or labels()
    out: dict[str, Any] = {}
    for name, value in params.items():
        group = VALUE_LABELS.get(name)
        if group is None or value is None:
            out[name] = value
        elif isinstance(value, str):
            out[name] = label(group, value, table)
        else:
            out[name] = "、".join(label(group, str(v), table) for v in value)
    return out


def explain(code: str, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`message` (and `next` where there is one) of an error, in Chinese, with its specifics.
    `params["case"]` picks a case of the code with its own words (`forbidden/kiosk`)."""
    params = dict(params or {})
    case = params.pop("case", None)
    table = errors()
    entry = table.get(f"{code}/{case}") if case else None
    entry = entry or table.get(code)
    if entry is None:
        entry, params = zh_CN.UNKNOWN, {**params, "code": code}
    values = _shown(params)
    out = {"message": fill(entry.message, values)}
    if entry.next:
        out["next"] = fill(entry.next, values)
    return out


def invalid_fields(problems: list[dict[str, Any]]) -> str:
    """FastAPI's validation errors as a person reads them: each field by its name, and what is
    wrong with it (`start 应为日期（如 2026-11-23）；note 必须填写`)."""
    out = []
    for p in problems:
        loc = [str(x) for x in p.get("loc", ()) if x not in ("body", "query", "path", "header")]
        name = ".".join(loc) or "请求内容"
        ctx = {k: str(v) for k, v in (p.get("ctx") or {}).items()}
        try:
            what = zh_CN.PROBLEMS.get(p.get("type", ""), zh_CN.PROBLEM_UNKNOWN).format_map(ctx)
        except KeyError:
            what = zh_CN.PROBLEM_UNKNOWN
        out.append(f"{name} {what}")
    return "；".join(out)


def part_text(part: str | None, table: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    """A command's part as the audit writes it (`slot 3`, `door 5`) as a person reads it (`格口 3`):
    the word's label is its kind's (`part` labels)."""
    if not part:
        return part
    word, _, rest = part.partition(" ")
    return f"{label('part', word, table)} {rest}".strip()
