"""A configuration's problems in words: each as (field path, 中文 message with what to do and the
error's code beside it), the path as the file spells it (a list item named by its id).

pydantic's own errors are put into words by drivers/profiles/validation.py (by type and context,
shared with the device profiles); the validators of this package raise their messages in Chinese
already and keep pydantic's `value_error` as their code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drivers.profiles.validation import hint_of
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
        lines = [f"{self.file}：{len(self.problems)} 处错误 (config_invalid)"]
        lines += [f"  {self.file}：{path}：{msg}{self._at(path)}" for path, msg in self.problems]
        return "\n".join(lines)

    def _at(self, path: str) -> str:
        line = self.lines.get(path)
        return f"（第 {line} 行）" if line is not None else ""


def problem(err: Mapping[str, Any], raw: Any) -> tuple[str, str]:
    path, hint = _path(err["loc"], raw), hint_of(err)
    # A device's kind check names the field first ("zone: 一台 ... 不带 zone"): put it in the path.
    head, sep, rest = hint.partition(": ")
    if sep and head in device_params() and err["loc"][:1] == ("devices",) and len(err["loc"]) == 2:
        return f"{path}.{head}", rest
    return path, hint


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
