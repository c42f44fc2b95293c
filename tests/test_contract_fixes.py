"""What api-contract.md promised and the product did otherwise, each held to the contract: the
discipline ledger readable by every role, names and staff ids masked for all but managers, duty
managers and the person (issue 23), their named reads audited; an appeal taking `reason` like
every step of the lifecycle (and `note`, the pages' older name); `hallgate report` without `-c`.
Against `hallgate run` (real Mosquitto, seeded ledger: tests/test_ledger_pages.py's hall)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from tests import test_ledger_pages
from tests.test_ledger_pages import Hall, _reads

hall = test_ledger_pages.hall  # the fixture: `hallgate run` with a seeded ledger, one for this module

ROOT = Path(__file__).resolve().parents[1]
# What no reader but a manager may find in the ledger: staff ids, names, the patrol's recorder and
# its free text, the phone slots that are someone's.
NAMED = ("S0001", "S0002", "S0003", "王小明", "李红", "张伟", "巡查赵强", "与邻窗闲聊", "lb-1")


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_a_reader_who_may_not_see_names_reads_the_ledger_masked_and_unaudited(hall: Hall, role: str) -> None:
    rows = hall.call("GET", "/api/v1/violations", role=role)
    assert sorted(r["id"] for r in rows) == sorted(hall.ids.values())
    text = json.dumps(rows, ensure_ascii=False)
    for named in NAMED:
        assert named not in text, named
    assert {r["staff"] for r in rows} == {None}
    assert sorted({r["name"] for r in rows}) == sorted({"王**", "李*", "张*"}), rows
    phone = next(r for r in rows if r["id"] == hall.ids["phone3"])
    assert (phone["kind"], phone["window"], phone["department"]) == ("phone", "W03", "医保科")
    assert [e["event"] for e in phone["evidence"]] == ["phone_out"]
    # Nobody may pick a person out of it by id either.
    refused = hall.call("GET", "/api/v1/violations", role=role, status=403, params={"staff": "S0001"})
    assert (refused["error"], refused["message"]) == ("forbidden", "只有值班长和主任可以按人员查询违规台账")
    assert not [r for r in _reads(hall) if r["role"] == role]  # nothing named was read


def test_the_person_reads_their_own_named_and_the_rest_masked_audited_as_their_own(hall: Hall) -> None:
    v = hall.ids
    rows = {r["id"]: r for r in hall.call("GET", "/api/v1/violations", role="staff")}  # S0001, 王小明
    own = {v["unready1"], v["away1"], v["chat1"]}
    assert {i for i, r in rows.items() if r["staff"] == "S0001"} == own
    assert {rows[i]["name"] for i in own} == {"王小明"}
    others = [r for i, r in rows.items() if i not in own]
    text = json.dumps(others, ensure_ascii=False) + json.dumps([rows[i] for i in own], ensure_ascii=False)
    for named in ("S0002", "S0003", "李红", "张伟", "巡查赵强"):  # a colleague, the patrol's recorder
        assert named not in text, named
    assert {r["staff"] for r in others} == {None} and {r["name"] for r in others} == {"李*", "张*"}
    (read,) = [r for r in _reads(hall, actor="窗口王小明") if r["what"] == "own" and "staff" not in r["filter"]]
    assert sorted(read["ids"]) == sorted(own)
    # Their own id as a filter is theirs to use; a colleague's is not.
    assert {r["id"] for r in hall.call("GET", "/api/v1/violations", role="staff", params={"staff": "S0001"})} == own
    hall.call("GET", "/api/v1/violations", role="staff", status=403, params={"staff": "S0002"})


def test_managers_read_the_ledger_named_and_audited(hall: Hall) -> None:
    rows = hall.call("GET", "/api/v1/violations", role="duty_manager", params={"kind": "phone"})
    assert {(r["staff"], r["name"]) for r in rows} == {("S0002", "李红"), ("S0003", "张伟")}
    (read,) = [r for r in _reads(hall, actor="值班长赵强") if r["what"] == "ledger"]
    assert read["filter"] == {"kind": "phone"} and sorted(read["ids"]) == sorted(r["id"] for r in rows)


def test_an_appeal_takes_reason_as_every_step_does_and_note_still(hall: Hall) -> None:
    v = hall.ids
    for name in ("phone2", "away2"):
        hall.call("POST", f"/api/v1/violations/{v[name]}/confirm", json={"reason": "录像核实"})
    # S0002's token: the contract's body, then the pages' older one.
    for name, body in (("phone2", {"reason": "手机交给同事保管"}), ("away2", {"note": "去取打印件"})):
        out = hall.call("POST", f"/api/v1/violations/{v[name]}/appeal", role="staff2", json=body)
        assert out["state"] == "appealed", out
        steps = hall.call("GET", f"/api/v1/violations/{v[name]}")["steps"]
        assert (steps[-1]["action"], steps[-1]["text"]) == ("appeal", next(iter(body.values())))
    refused = hall.call("POST", f"/api/v1/violations/{v['phone2']}/appeal", role="staff2", status=422, json={})
    assert refused["error"] == "invalid_request" and refused["message"], refused


def test_a_report_as_the_contract_writes_it_reads_the_hall_the_service_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No -c: the hall of HALL_CONFIG (configs/systemd/hallgate@.service's), here the demo's, read
    # from a directory without its state database: the command gets as far as saying so.
    monkeypatch.setenv("HALL_CONFIG", str(ROOT / "configs" / "demo-hall.yaml"))
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--kind", "day", "--period", "2026-12-06", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "状态数据库" in err and "不存在" in err and str(tmp_path) in err, err
