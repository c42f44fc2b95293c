"""The Modbus profile: signals in register tables, and commands as writes with their read-back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from drivers.profiles.absent import check_params, check_register_absent
from drivers.profiles.specs import PLACEHOLDER, FieldSpec, KindName, ProfileModel, Scalar, fields_short_forms

RegisterTable = Literal["coil", "discrete", "input", "holding"]
ValueType = Literal[
    "bool", "bits", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
ByteOrder = Literal["ABCD", "BADC", "CDAB", "DCBA"]
WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4, "float32": 2, "float64": 4}
_WRAPS = {"uint16": 2**16, "uint32": 2**32, "uint64": 2**64}


class Signal(ProfileModel):
    table: RegisterTable
    address: int = Field(ge=0, le=65535)
    type: ValueType = "uint16"
    count: int | None = Field(None, ge=1, le=2000)  # bits: how many; string: registers (2 characters each)
    bit: int | None = Field(None, ge=0, le=15)  # bool in a register: which bit
    byte_order: ByteOrder | None = None  # default: the profile's
    scale: float | None = None
    offset: float | None = None
    map: dict[int, str | None] | None = None  # enumerations: register value -> canonical text (null: absent)
    flags: dict[int, str] | None = None  # status bits: bit number -> canonical flag name
    # A counter that wraps: `counter: true` wraps at its type's range (uint16 at 65,536, uint32 at
    # 2^32); `wrap: N` when the device wraps elsewhere (e.g. at 100,000 on a 32-bit register).
    counter: bool = False
    wrap: int | None = Field(None, ge=2)
    # Raw register values that mean "no reading" (0xFFFF on many sensors): left out of the reading,
    # compared before scale, offset or map.
    absent: list[int] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Signal:
        bit_table = self.table in ("coil", "discrete")
        if bit_table and self.type not in ("bool", "bits"):
            raise ValueError(f"类型 {self.type} 不适用于 {self.table} 表")
        if self.type in ("bits", "string") and self.count is None:
            raise ValueError(f"类型 {self.type} 需要 count")
        if self.type not in ("bits", "string") and self.count is not None:
            raise ValueError(f"count 只用于 bits 和 string，不用于 {self.type}")
        if self.bit is not None and (bit_table or self.type != "bool"):
            raise ValueError("bit 用于从寄存器中取一位作 bool 信号")
        if self.type == "string" and self.count is not None and self.count > 125:
            raise ValueError("string 最多 125 个寄存器")
        transforms = [n for n in ("scale", "offset", "map", "flags") if getattr(self, n) is not None]
        if transforms and self.type in ("bool", "bits", "string"):
            raise ValueError(f"{'、'.join(transforms)} 需要数值类型，不能是 {self.type}")
        if self.map is not None and self.flags is not None:
            raise ValueError("一个信号只能有 map 或 flags 之一")
        if (self.map is not None or self.flags is not None) and (self.scale or self.offset):
            raise ValueError("map/flags 作用于原始值：不能再有 scale 或 offset")
        unsigned = self.type in ("uint16", "uint32", "uint64")
        if (self.counter or self.wrap is not None) and (not unsigned or transforms):
            raise ValueError("计数器是无符号整数（uint16/32/64），不带 scale、offset 或 map")
        check_register_absent(self.absent, self.map, self.type)
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) the signal occupies."""
        if self.table in ("coil", "discrete"):
            return self.count if self.type == "bits" and self.count else 1
        if self.type == "bits":
            return -(-(self.count or 1) // 16)
        if self.type == "string":
            return self.count or 1
        return WORDS.get(self.type, 1)

    @property
    def wraps_at(self) -> int | None:
        if self.wrap is not None:
            return self.wrap
        return _WRAPS.get(self.type) if self.counter else None

    @property
    def field_type(self) -> str:
        """The canonical type of the decoded value (see values.INFLUX_TYPES)."""
        if self.type == "bool":
            return "bool"
        if self.type == "bits":
            return "bits"
        if self.type == "string" or self.map is not None:
            return "string"
        if self.flags is not None:
            return "strings"
        if self.type.startswith("float") or self.scale is not None or self.offset is not None:
            return "float"
        return "int"


class Condition(ProfileModel):
    """One test of a read-back: a signal (an element or bit of it) equals, or is at most, a value."""

    signal: str
    index: str | int | None = None  # a param name or a fixed number: element of bits, bit of an integer
    equals: Scalar | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if (self.equals is None) == (self.at_most is None):
            raise ValueError("条件只能有 equals 或 at_most 之一")
        return self


class Confirm(ProfileModel):
    when: list[Condition] = Field(min_length=1)  # all hold: the command took effect
    fail_when: list[Condition] = Field(default_factory=list)  # any holds: the device reports failure
    timeout_s: float = Field(5.0, gt=0)


class Write(ProfileModel):
    table: Literal["coil", "holding"]
    address: int = Field(ge=0, le=65535)
    index: str | None = None  # a param added to address (minus the command's index_base)
    value: Scalar  # a number, true/false, or "{param}"


class ModbusCommand(ProfileModel):
    """Register writes, and the read-back that proves them (a written coil proves nothing)."""

    params: dict[str, FieldSpec] = Field(default_factory=dict)
    index_base: int = Field(0, ge=0)  # the number of the first door/slot in params used as an index
    writes: list[Write] = Field(min_length=1)
    confirm: Confirm | None = None

    _short = field_validator("params", mode="before")(fields_short_forms)

    @model_validator(mode="after")
    def _params_exist(self) -> ModbusCommand:
        check_params(self.params)
        named = [w.index for w in self.writes]
        named += [w.value[1:-1] for w in self.writes if isinstance(w.value, str)]
        if self.confirm is not None:
            named += [c.index for c in (*self.confirm.when, *self.confirm.fail_when)]
        for w in self.writes:
            if isinstance(w.value, str) and not PLACEHOLDER.match(w.value):
                raise ValueError(f'写入值 {w.value!r} 不是数字、true/false 或 "{{param}}"')
        unknown = {n for n in named if isinstance(n, str) and n not in self.params}
        if unknown:
            raise ValueError(f"{sorted(unknown)} 不是 params 中的参数")
        return self


class ModbusProfile(ProfileModel):
    name: str
    kind: KindName
    protocol: Literal["modbus"]
    vendor: str = ""
    # Word and byte order of multi-register values, as Telegraf names them: ABCD is big-endian,
    # high word first; CDAB swaps the words, BADC the bytes in each word, DCBA both.
    byte_order: ByteOrder = "ABCD"
    # Registers that may be read across between two signals; 0 because reading outside the
    # map is an error on most devices.
    max_gap: int = Field(0, ge=0, le=100)
    signals: dict[str, Signal]
    commands: dict[str, ModbusCommand] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _confirm_signals(self) -> ModbusProfile:
        for op, cmd in self.commands.items():
            if cmd.confirm is None:
                continue
            for c in (*cmd.confirm.when, *cmd.confirm.fail_when):
                if c.signal not in self.signals:
                    raise ValueError(f"commands.{op}.confirm：{c.signal!r} 不是信号")
        return self
