"""`hallgate check-config` on broken files speaks Chinese on every line, the machine's part (field
path, error code) beside the words: a line without a CJK character is an English message that
slipped through (pydantic's own words, a validator or a check never translated)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.cli import main

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
CODE = re.compile(r"\(([a-z_]+)\)")

# Each file breaks things in many ways at once; the codes are those its lines must name.
BROKEN = {
    "fields": (
        """site: Demo Hall
nmae: typo
timezone: Mars/Olympus
working_hours: {days: [mon, funday], start: nine, end: 1020}
zones:
  - {id: a, capacity: -1}
  - {id: a, capacity: many}
broker: {host: "", port: 99999, protocol: "6"}
store: {max_bytes: lots}
occupancy: {history_days: 0}
api: {tokens: [{role: kiosk, env: T1}, {role: staff}]}
devices:
  - {id: t1, kind: toaster, profile: ref-lockbox}
  - {id: bad id, kind: rating_pad, profile: ref-rating-pad}
  - {id: c1, kind: people_counter, profile: ref-people-counter, zone: a, window: W1, modbus: {host: h, serial: /dev/x}}
  - {id: r1, kind: rating_pad, profile: ref-rating-pad, window: W1, mqtt: {topic: "a/#"}}
""",
        {
            "string_pattern_mismatch",
            "extra_forbidden",
            "literal_error",
            "time_parsing",
            "greater_than_equal",
            "int_parsing",
            "less_than_equal",
            "string_too_short",
            "missing",
            "value_error",
        },
    ),
    "references": (
        """site: h
zones: [{id: lobby, capacity: 5}, {id: lobby, capacity: 9}]
posts:
  - {window: W01, a: S1, b: S2}
  - {window: W02, a: S3}
phones: {lockboxes: [{device: lb-9, slots: {S1: 1}}, {device: lb-1, slots: {S1: 30, S2: 2, S3: 2}}]}
staff:
  - {id: S1, name: 王芳, department: 综合窗口, window: W07}
  - {id: S1, name: 李娜, department: 综合窗口, post: B}
  - {id: S4, name: 张伟, department: 综合窗口, phone: {device: lb-1, slot: 2}}
api: {tokens: [{role: kiosk, env: T1, locker: nowhere}]}
devices:
  - {id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 24}
  - {id: c1, kind: people_counter, profile: ref-people-counter, zone: roof, modbus: {host: 10.0.0.2}}
  - {id: c1, kind: people_counter, profile: no-such-profile, zone: lobby, modbus: {host: 10.0.0.3}}
  - {id: r1, kind: rating_pad, profile: ref-people-counter, window: W01}
  - {id: c2, kind: people_counter, profile: ref-people-counter, zone: lobby}
""",
        {
            "duplicate_id",
            "unknown_zone",
            "unknown_device",
            "unknown_window",
            "slot_out_of_range",
            "slot_taken",
            "post_mismatch",
            "unknown_profile",
            "profile_kind_mismatch",
            "link_missing",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_line_of_a_broken_files_report_is_chinese_with_its_code(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, codes = BROKEN[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert len(lines) > len(codes), lines  # the header and at least one line per code
    english = [line for line in lines if not CJK.search(line)]
    assert english == [], "\n".join(english)
    named = {c for line in lines for c in CODE.findall(line)}
    assert codes <= named, (codes - named, lines)
    # Every problem names the file and a field path before its words, and the line of that field
    # (the checks after validation too: references, profiles, the registry).
    assert all(line.strip().startswith(f"{path}：") for line in lines), lines
    assert [line for line in lines[1:] if not re.search(r"（第 \d+ 行）$", line)] == [], lines


def test_a_district_file_given_to_check_config_says_which_command_reads_it(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent.parent / "configs" / "district" / "district.yaml"
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr()
    said = out.out + out.err
    assert "(district_file)" in said and "hallgate district -c" in said, said
    assert "(missing)" not in said and "(extra_forbidden)" not in said, said  # not a hall's field list
