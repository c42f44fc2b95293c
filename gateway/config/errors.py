"""A configuration's problems in words: each as (field path, message with what to do), the path as
the file spells it (a list item named by its id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.kinds.registry import device_params

if TYPE_CHECKING:
    from gateway.config.hall import HallConfig


class ConfigError(Exception):
    """Every problem of one configuration file, each as (field path, message, fix).

    `partial`: when the file did not validate, the parts that did (zones, and devices with their
    index in the file), so later checks (profiles, references) can still report in the same pass.
    """

    def __init__(
        self,
        file: str,
        problems: list[tuple[str, str]],
        partial: HallConfig | None = None,
        device_index: list[int] | None = None,
        lines: Mapping[str, int] | None = None,
    ) -> None:
        self.file = file
        self.problems = problems
        self.lines = dict(lines or {})  # field path -> its line in the file, where the file has it
        self.partial = partial
        self.device_index = device_index
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.file}: {len(self.problems)} error(s)"]
        lines += [f"  {self.file}: {path}: {msg}{self._at(path)}" for path, msg in self.problems]
        return "\n".join(lines)

    def _at(self, path: str) -> str:
        line = self.lines.get(path)
        return f" (line {line})" if line is not None else ""


def problem(err: Mapping[str, Any], raw: Any) -> tuple[str, str]:
    path, hint = _path(err["loc"], raw), _hint(err)
    # A device's kind check names the field first ("zone: a ... takes no zone"): put it in the path.
    head, sep, rest = hint.partition(": ")
    if sep and head in device_params() and err["loc"][:1] == ("devices",) and len(err["loc"]) == 2:
        return f"{path}.{head}", rest
    return path, hint


# What the patterns of this file's fields allow, in words (pydantic only quotes the pattern).
PATTERN_WORDS = {
    r"^[a-z0-9_-]+$": "lowercase letters, digits, '_' or '-' (e.g. hall-07)",
    r"^[A-Za-z0-9_.-]{1,64}$": "1-64 letters, digits, '.', '_' or '-' (e.g. rp-w01)",
    r"^https?://": "a URL that starts with http:// or https://",
    r"^[A-Z0-9]{1,16}$": "1-16 capital letters or digits",
}


def _hint(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field: remove it or check its spelling (see README, Configuration)"
    if kind == "literal_error":
        return f"{err.get('input')!r} is not allowed here: {msg.replace('Input should be', 'use')}"
    if kind in ("time_parsing", "time_type"):
        return f'{err.get("input")!r} is not a time of day: write HH:MM, e.g. "09:00"'
    if kind == "missing":
        return "required field is missing: add it"
    if kind == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        return f"{err.get('input')!r} is not allowed here: use {PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    if kind == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
        return "is empty: give a value (or leave the field out for its default)"
    return msg.removeprefix("Value error, ")


def _path(loc: tuple[Any, ...], raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label = f"[{item}] (id {node['id']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def print_problems(head: str, problems: list[tuple[str, str]]) -> int:
    """A command's refusal on stderr: its head line, then each problem as `where: what`; exit 1."""
    import sys

    print(head, file=sys.stderr)
    for where, what in problems:
        print(f"  {where}: {what}", file=sys.stderr)
    return 1
