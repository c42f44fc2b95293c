"""Where in the file a field is: the line of the YAML node an error's location leads to (the
deepest one the file has), so an error can say `line 12` beside its field path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

_ID = re.compile(r" \(id [^)]*\)")
_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def tree(text: str) -> yaml.Node | None:
    """The file's node tree (with the marks that carry line numbers); None if it is not YAML."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the node at `loc` (mapping keys and list indexes), or of the deepest
    node on the way that the file has (a missing field: the mapping that lacks it)."""
    node, line = root, None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def loc_of(path: str) -> list[str | int] | None:
    """A problem's field path as the errors spell it (`devices[2] (id c1).zone`) back into the
    location `line_of` follows; None for what is no field of the file (`(file)`, `$VARIABLE`)."""
    if path.startswith(("(", "$")) or " (from $" in path:
        return None
    return [int(n) if n else key for n, key in _PART.findall(_ID.sub("", path))]


def lines_of(text: str, paths: Sequence[str], known: dict[str, int]) -> dict[str, int]:
    """`known` with the line of every other path the file has (the checks after validation give
    paths only: references, profiles, secrets)."""
    root, out = tree(text), dict(known)
    for path in paths:
        loc = loc_of(path)
        if path not in out and loc and (line := line_of(root, loc)) is not None:
            out[path] = line
    return out
