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
            r'occupancy.reset_at: 180 is a number, not a time of day: write HH:MM quoted, e.g. "03:00" \(line 3\)',
        ),
        (
            'occupancy: {reset_at: "10:00"}\n',
            r"occupancy.reset_at: 10:00 is within working hours 09:00-17:00: reset when the hall is closed",
        ),
        ("occupancy: {over_capacity_pct: 90, clear_pct: 95}\n", r"clear_pct 95 is above over_capacity_pct 90"),
        ("occupancy: {resetat: x}\n", r"occupancy.resetat: unknown field"),
        (
            "zones: [{id: lobby, capacity: 5, reset_at: never, reset_counters: true}]\n",
            r"reset_counters: the zone is never reset \(reset_at: never\): drop one of them",
        ),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)
