"""The load-time checks of a profile's "no value" declarations (`absent:` and `map: {v: null}`).

A vendor marks a missing reading with a value (a pad's 0 for "not rated", 0xFFFF for "no
reading"). A profile lists them, and the decoder leaves the field out of the event. What can go
wrong is caught here, once at load: each message is Chinese, with a stable code in brackets and
the fix; the loader puts the file and the field path in front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# The raw range of each integer register type: a sentinel outside it can never match.
_RAW_RANGE = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_EMPTY = '[absent_empty] absent 为空：列出厂商表示"无值"的取值，如 absent: [0]；不需要就删掉 absent'


def _finite(values: Sequence[Any]) -> None:
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"[absent_not_finite] {v!r} 不能作为无值标记：写厂商实际发送的数值")


def _not_in_map(absent: Sequence[Any], vmap: Mapping[Any, Any] | None) -> None:
    both = [v for v in absent if vmap and v in vmap]
    if both:
        raise ValueError(
            f"[absent_in_map] {both[0]!r} 同时出现在 absent 和 map 中：只保留一处"
            f"（map: {{{both[0]!r}: null}} 与 absent: [{both[0]!r}] 含义相同）"
        )


def check_absent(absent: list[Any] | None, vmap: Mapping[Any, Any] | None) -> None:
    """A JSON field's declarations: raises ValueError naming what is wrong and the fix."""
    if absent is not None and not absent:
        raise ValueError(_EMPTY)
    _finite([*(absent or ()), *(k for k, v in (vmap or {}).items() if v is None)])
    _not_in_map(absent or (), vmap)


def check_params(params: Mapping[str, Any]) -> None:
    """A command parameter is ours to send: it has a value, never a vendor's "no value"."""
    for name, spec in params.items():
        if spec.absent is not None or any(v is None for v in (spec.map or {}).values()):
            raise ValueError(f"[absent_in_command] 命令参数 {name} 不能声明无值：删掉它的 absent（或 map 中的 null）")


def check_register_absent(absent: list[int] | None, vmap: Mapping[int, Any] | None, vtype: str) -> None:
    """A Modbus signal's declarations (raw register values, before scale, offset and map)."""
    if absent is None and not any(v is None for v in (vmap or {}).values()):
        return
    if absent is not None and not absent:
        raise ValueError(_EMPTY)
    if vtype in ("bool", "bits", "string"):
        raise ValueError(f"[absent_not_numeric] {vtype} 信号不能声明无值：absent 只用于数值寄存器，删掉它")
    _not_in_map(absent or (), vmap)
    lo, hi = _RAW_RANGE.get(vtype, (None, None))
    for v in absent or ():
        if lo is not None and hi is not None and not lo <= v <= hi:
            signed_wire = lo < 0 and hi < v <= hi * 2 + 1  # 0xFFFF read as an int16 is -1
            hint = f"有符号类型里 0x{v:X} 写作 {v - (hi + 1) * 2}" if signed_wire else "改成范围内的值"
            raise ValueError(f"[absent_out_of_range] {v} 超出 {vtype} 的取值范围 {lo}..{hi}：{hint}")
