"""pydantic's validation errors in Chinese, for a person fixing a file (the hall configuration
through gateway/config/errors.py, a device profile through loader.py): a table keyed by the error's
type (`err["type"]`) filled from its input and context (`err["ctx"]`), never by matching pydantic's
English text. The type stays beside the words as the machine's code: `缺少必填字段：请补上 (missing)`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# What the patterns of the files' fields allow, in words (pydantic only quotes the pattern).
PATTERN_WORDS = {
    r"^[a-z0-9_-]+$": "小写字母、数字、'_' 或 '-'（如 hall-07）",
    r"^[A-Za-z0-9_.-]{1,64}$": " 1-64 个字母、数字、'.'、'_' 或 '-'（如 rp-w01）",
    r"^https?://": "以 http:// 或 https:// 开头的网址",
    r"^[A-Z0-9]{1,16}$": " 1-16 个大写字母或数字",
}

_TYPE_WORDS = {
    "int": "整数",
    "float": "数字",
    "bool": "true 或 false",
    "string": "文字",
    "list": "列表（- 开头的各项）",
    "dict": "映射（键: 值）",
    "model": "映射（键: 值）",
    "time": "时刻",
}


def _said(err: Mapping[str, Any]) -> str:
    return repr(err.get("input"))


def _n(v: Any) -> str:
    """A bound as a person writes it: 0, not 0.0."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _pattern(pattern: str) -> str:
    return PATTERN_WORDS.get(pattern, f"符合 {pattern} 的文字")


def _either(ctx: Mapping[str, Any]) -> str:
    return str(ctx.get("expected", "")).replace(" or ", " 或 ")


def _expected_type(kind: str) -> str:
    return _TYPE_WORDS[kind.split("_")[0]]


# pydantic's error type -> the words, from the error's input and context (`ctx`).
HINTS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str]] = {
    "missing": lambda e, c: "缺少必填字段：请补上",
    "extra_forbidden": lambda e, c: "未知字段：请删除或检查拼写（见 README「Configuration」）",
    "literal_error": lambda e, c: f"此处不允许 {_said(e)}：请填 {_either(c)}",
    "enum": lambda e, c: f"此处不允许 {_said(e)}：请填 {_either(c)}",
    "time_parsing": lambda e, c: f'{_said(e)} 不是时刻：请写 HH:MM，如 "09:00"',
    "time_type": lambda e, c: f'{_said(e)} 不是时刻：请写 HH:MM，如 "09:00"',
    "string_pattern_mismatch": lambda e, c: f"此处不允许 {_said(e)}：请用{_pattern(str(c.get('pattern', '')))}",
    "string_too_short": lambda e, c: (
        "为空：请填写（或删去该字段用默认值）"
        if c.get("min_length") == 1
        else f"太短：至少 {c.get('min_length')} 个字符"
    ),
    "string_too_long": lambda e, c: f"太长：最多 {c.get('max_length')} 个字符",
    "too_short": lambda e, c: f"项数太少：至少 {c.get('min_length')} 项（现有 {c.get('actual_length')} 项）",
    "too_long": lambda e, c: f"项数太多：最多 {c.get('max_length')} 项（现有 {c.get('actual_length')} 项）",
    "greater_than": lambda e, c: f"{_said(e)} 太小：应大于 {_n(c.get('gt'))}",
    "greater_than_equal": lambda e, c: f"{_said(e)} 太小：应不小于 {_n(c.get('ge'))}",
    "less_than": lambda e, c: f"{_said(e)} 太大：应小于 {_n(c.get('lt'))}",
    "less_than_equal": lambda e, c: f"{_said(e)} 太大：应不大于 {_n(c.get('le'))}",
    "multiple_of": lambda e, c: f"{_said(e)} 应为 {_n(c.get('multiple_of'))} 的倍数",
    "int_from_float": lambda e, c: f"{_said(e)} 不是整数：请去掉小数部分",
    "value_error": lambda e, c: str(e.get("msg", "")).removeprefix("Value error, "),
    "assertion_error": lambda e, c: str(e.get("msg", "")).removeprefix("Assertion failed, "),
}
for _kind in ("int", "float", "bool", "string", "list", "dict", "model"):
    for _suffix in ("type", "parsing", "attributes_type"):
        HINTS.setdefault(
            f"{_kind}_{_suffix}", lambda e, c, k=_kind: f"{_said(e)} 不是{_expected_type(k)}：请填{_expected_type(k)}"
        )


def hint_of(err: Mapping[str, Any]) -> str:
    """The Chinese words for one pydantic error, its type beside them as the machine's code."""
    kind = str(err["type"])
    words = HINTS.get(kind)
    said = words(err, err.get("ctx") or {}) if words else f"取值不符合要求：{err.get('msg', '')}"
    return f"{said} ({kind})"
