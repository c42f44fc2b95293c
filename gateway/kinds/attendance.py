"""Attendance machine (考勤机): staff clock in and out."""

from __future__ import annotations

from gateway.kinds.base import Kind, low_battery

KIND = Kind(
    name="attendance",
    description="attendance machine (考勤机)",
    params=frozenset({"zone"}),
    signals={"punch": frozenset({"staff_id"})},
    rules=(low_battery,),
)
