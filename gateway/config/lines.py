"""Where in the file a field is: the line of the YAML node an error's location leads to (the
deepest one the file has), so an error can say `line 12` beside its field path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


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
