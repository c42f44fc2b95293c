"""An integrator's mistakes in a new vendor's profile or in the hall file: one message naming the
file, the field as written in the file, and the fix; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.profiles.loader import ProfileError, load_profile

COUNTER = "name: c\nkind: people_counter\nprotocol: modbus\nvendor: Corvo\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            COUNTER + "signals: {in_total: {table: input, adress: 0, type: uint32}}\n",
            r"signals.in_total.adress: unknown field: remove it or check its spelling",
        ),
        (COUNTER, r"c.yaml: signals: required field is missing: add it"),
        (
            COUNTER + "signals: {in_total: {table: holdings, address: 0}}\n",
            r"signals.in_total.table: 'holdings' is not allowed here: use 'coil', 'discrete', 'input' or 'holding'",
        ),
        (
            "name: c\nkind: people_counter\nprotocol: bacnet\n",
            r"c.yaml: protocol: 'bacnet' is not known: use mqtt or modbus",
        ),
        (
            "name: c\nkind: people_counter\n",
            r"c.yaml: protocol: required field is missing: add protocol: mqtt or modbus",
        ),
        ("- a\n- b\n", r"c.yaml: \(top level\): a profile is a mapping with name, kind, protocol"),
    ],
)
def test_profile_errors_name_the_field_as_written_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    """The path had pydantic's protocol tag in front (`modbus.signals...`, not in the file) and
    pydantic's own words ("Extra inputs are not permitted", "Field required") with no fix."""
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ProfileError, match=message) as e:
        load_profile(tmp_path / "c.yaml")
    assert "modbus." not in str(e.value) and "Field required" not in str(e.value)
