"""The occupancy section: each mistake names its field and the fix."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "hall.yaml"
    path.write_text(
        "site: s1\nzones: [{id: consult, capacity: 10, reset_at: never}, {id: windows, capacity: 5}]\n" + text
    )
    return load_config(path, {})


def test_defaults_and_per_zone_reset(tmp_path: Path) -> None:
    cfg = _load(tmp_path, 'occupancy: {reset_at: "02:30", hall_capacity: 12}\n')
    consult, windows = cfg.zones
    assert (cfg.zone_reset_at(consult), cfg.zone_reset_at(windows)) == (None, time(2, 30))
    assert _load(tmp_path, "").occupancy.reset_at == time(3, 0)
    assert [z.reset_counters for z in cfg.zones] == [False, False]  # only the baseline, by default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "occupancy: {reset_at: 3:00}\n",
            r'occupancy.reset_at：180 是数字，不是时刻：请写带引号的 HH:MM，如 "03:00" \(value_error\)（第 3 行）',
        ),
        (
            'occupancy: {reset_at: "10:00"}\n',
            r"occupancy.reset_at：10:00 在工作时间 09:00-17:00 之内：请在闭厅时清零",
        ),
        ("occupancy: {over_capacity_pct: 90, clear_pct: 95}\n", r"clear_pct 95 高于 over_capacity_pct 90"),
        ("occupancy: {resetat: x}\n", r"occupancy.resetat：未知字段"),
        (
            "zones: [{id: lobby, capacity: 5, reset_at: never, reset_counters: true}]\n",
            r"reset_counters：该区域从不清零（reset_at: never），两者请删去其一",
        ),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)
