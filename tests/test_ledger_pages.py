"""The manager's ledger (违规台账) and a person's own, against `hallgate run` (real Mosquitto, the
state database seeded with violations) and, for the pages, a real headless Chromium held to
tests/page_rules.py: filters, a record's evidence, trail and photo, the steps with a reason
checked in Chinese, the export, the view by department; the staff page's own records (nobody
else's name), the appeal and the signing of a 整改通知单; and the audit of every read of names."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image
from selenium.webdriver.common.by import By

from gateway.config.load import load_config
from gateway.i18n.pages import WORDS
from gateway.store.journal import Journal
from tests.page_rules import catalogue_codes, codes_shown, outside_viewport
from tests.servers import Mosquitto, free_port
from tests.test_screens import chromium, click, console_errors, wait

ROLES = ("manager", "duty_manager", "staff", "staff2", "admin", "viewer")
PASSWORD = "ledger-pass-0123456789"
ROWS = "#ledger-rows tr[data-id]"


@dataclass
class Hall:
    base: str
    tokens: dict[str, str]
    ids: dict[str, int]  # seeded violations by name
    folder: Path

    def call(self, method: str, path: str, role: str = "manager", status: int = 200, **kw: Any) -> Any:
        r = httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {self.tokens[role]}"},
                          timeout=10, **kw)  # fmt: skip
        assert r.status_code == status, r.text
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


def _punch(staff: str, direction: str) -> dict[str, Any]:
    return {"event": "punch", "staff": staff, "direction": direction, "ts_ns": 0}


def _phone(slot: int) -> dict[str, Any]:
    return {"event": "phone_out", "device": "lb-1", "slot": slot, "ts_ns": 0}


PATROL = {"event": "patrol", "by": "巡查赵强", "role": "duty_manager", "note": "与邻窗闲聊", "where": "W01", "ts_ns": 0}
# name -> (kind, staff, window, department, evidence): S0001 王小明 and S0002 李红 of 社保科, S0003 of 医保科
SEED: dict[str, tuple[str, str, str, str, list[dict[str, Any]]]] = {
    "unready1": ("unready", "S0001", "W01", "社保科", [{"event": "opening", "ts_ns": 0}, _punch("S0003", "in")]),
    "away1": ("away", "S0001", "W01", "社保科", [_punch("S0001", "out")]),
    "chat1": ("chat", "S0001", "W01", "社保科", [PATROL]),
    "phone3": ("phone", "S0003", "W03", "医保科", [_phone(3)]),
    "phone2": ("phone", "S0002", "W02", "社保科", [_phone(2)]),
    "away2": ("away", "S0002", "W02", "社保科", [_punch("S0002", "out")]),
}


def _seed(state: Path) -> dict[str, int]:
    journal = Journal(state)
    now = time.time_ns()
    rows = []
    for i, (name, (kind, staff, window, dept, ev)) in enumerate(SEED.items()):
        at = now - (i + 1) * 10**9
        ev = [{**e, "ts_ns": at} for e in ev]
        rows.append({"key": name, "kind": kind, "staff": staff, "window": window, "department": dept, "at_ns": at,
                     "evidence": ev})  # fmt: skip
    ids = journal.repos.violations.add(rows, now)
    journal.close()
    return dict(zip(SEED, ids, strict=True))


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    folder = tmp_path_factory.mktemp("ledger")
    (folder / "mqtt").mkdir()
    broker = Mosquitto(folder / "mqtt")
    broker.start()
    port = free_port()
    tokens = {role: f"ledger-{role}-token-0123456789" for role in ROLES}
    config = folder / "hall.yaml"
    config.write_text(f"""
site: ledger-hall
name: 台账测试大厅
timezone: Asia/Shanghai
api:
  port: {port}
  tokens:
    - {{role: manager, env: L_MANAGER, name: 主任陈明}}
    - {{role: duty_manager, env: L_DUTY_MANAGER, name: 值班长赵强}}
    - {{role: staff, env: L_STAFF, name: 窗口王小明, staff_id: S0001}}
    - {{role: staff, env: L_STAFF2, name: S0002}}
    - {{role: admin, env: L_ADMIN, name: 管理员}}
    - {{role: viewer, env: L_VIEWER}}
broker: {{host: 127.0.0.1, port: {broker.port}}}
store: {{path: {folder}/outbox.sqlite}}
influx: {{api: none}}
staff:
  - {{id: S0001, name: 王小明, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 社保科, window: W02}}
  - {{id: S0003, name: 张伟, department: 医保科, window: W03}}
discipline:
  strikes: {{count: 2}}
""")
    env = dict(os.environ) | {f"L_{role.upper()}": token for role, token in tokens.items()}
    ids = _seed(load_config(config, env).store.state_file)
    user = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", "add", "-c", str(config), "--role", "staff", "--person", "王小明",
         "--staff-id", "S0001", "--password-stdin", "wang.xm"],
        input=PASSWORD, text=True, capture_output=True, env=env, check=False,
    )  # fmt: skip
    assert user.returncode == 0, user.stdout + user.stderr
    log = (folder / "gw.log").open("wb")
    gw = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(config)], stdout=log,
                          stderr=subprocess.STDOUT, env=env)  # fmt: skip
    h = Hall(f"http://127.0.0.1:{port}", tokens, ids, folder)

    def up() -> bool:
        assert gw.poll() is None, (folder / "gw.log").read_text()[-3000:]
        try:
            return httpx.get(f"{h.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait(up, timeout=60, what="the gateway ready")
        yield h
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gw.kill()
            gw.wait()
        log.close()
        broker.stop()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _prepared(hall: Hall) -> None:
    """What the page tests need whatever ran before: 王小明's two confirmed, a photo on one."""
    for name in ("unready1", "away1"):
        if hall.call("GET", f"/api/v1/violations/{hall.ids[name]}")["state"] == "detected":
            hall.call("POST", f"/api/v1/violations/{hall.ids[name]}/confirm", json={"reason": "录像核实"})
    if not hall.call("GET", f"/api/v1/violations/{hall.ids['unready1']}")["photo"]:
        auth = {"Authorization": f"Bearer {hall.tokens['duty_manager']}"}
        photo_url = f"{hall.base}/api/v1/violations/{hall.ids['unready1']}/photo"
        r = httpx.post(photo_url, files={"photo": ("p.png", _png(), "image/png")}, headers=auth, timeout=10)
        assert r.status_code == 201, r.text


def _reads(hall: Hall, **q: str) -> list[dict[str, Any]]:
    return hall.call("GET", "/api/v1/violations/reads", role="admin", params=q)


def test_the_ledger_a_record_the_export_and_the_departments_each_read_audited(hall: Hall) -> None:
    v = hall.ids
    for name in ("unready1", "away1"):
        hall.call("POST", f"/api/v1/violations/{v[name]}/confirm", json={"reason": "录像核实"})
    shown = hall.call("GET", "/api/v1/violations", params={"department": "社保科", "state": "confirmed"})
    assert sorted(r["id"] for r in shown) == sorted([v["unready1"], v["away1"]])
    (read,) = [r for r in _reads(hall) if r["what"] == "ledger"]
    assert (read["actor"], read["role"]) == ("主任陈明", "manager")
    assert read["filter"] == {"department": "社保科", "state": "confirmed"}
    assert sorted(read["ids"]) == sorted(r["id"] for r in shown) and read["at"]

    # One record: its evidence, its trail, its photo.
    auth = {"Authorization": f"Bearer {hall.tokens['duty_manager']}"}
    photo_url = f"{hall.base}/api/v1/violations/{v['unready1']}/photo"
    r = httpx.post(photo_url, files={"photo": ("p.png", _png(), "image/png")}, headers=auth, timeout=10)
    assert r.status_code == 201, r.text
    rec = hall.call("GET", f"/api/v1/violations/{v['unready1']}")
    assert rec["photo"] is True and rec["notice"] is None and rec["name"] == "王小明"
    assert [s["action"] for s in rec["steps"]] == ["detect", "confirm", "photo"]
    assert rec["evidence"][0]["event"] == "opening"
    photo = hall.call("GET", f"/api/v1/violations/{v['unready1']}/photo")
    assert photo.headers["content-type"] == "image/png"
    whats = [(x["what"], x["ids"]) for x in _reads(hall, actor="主任陈明")]
    assert ("record", [v["unready1"]]) in whats and ("photo", [v["unready1"]]) in whats

    # The export: what the same filter shows, as XLSX with Chinese headings.
    x = hall.call("GET", "/api/v1/violations/export", params={"department": "社保科", "state": "confirmed"})
    assert x.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(x.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "类型", "工号", "姓名")
    assert sorted(r[0] for r in rows[1:]) == sorted(r["id"] for r in shown)
    assert {r[3] for r in rows[1:]} == {"王小明"} and {r[7] for r in rows[1:]} == {"已确认"}
    assert _reads(hall, actor="主任陈明")[0]["what"] == "export"

    # The departments: 王小明 at the limit (2 of 2), 李红 and 张伟 with none counted yet.
    depts = {d["department"]: d for d in hall.call("GET", "/api/v1/violations/departments")}
    assert depts["社保科"]["count"] == 2 and depts["社保科"]["open"] == 3  # chat1, phone2, away2
    assert [(p["staff"], p["count"], p["standing"]) for p in depts["社保科"]["people"]] == [("S0001", 2, "reached")]
    assert depts["医保科"]["count"] == 0 and depts["医保科"]["open"] == 1
    # The reads' audit is the manager's and the admin's: not the duty manager's.
    hall.call("GET", "/api/v1/violations/reads", role="duty_manager", status=403)


def test_a_person_reads_their_own_ledger_appeals_and_signs(hall: Hall) -> None:
    v = hall.ids
    hall.call("POST", f"/api/v1/violations/{v['chat1']}/confirm", json={"reason": "巡查所见"})
    notice = hall.call("POST", f"/api/v1/violations/{v['chat1']}/notice", status=201,
                       json={"text": "请遵守窗口纪律", "deadline": "2099-01-01T12:00"})  # fmt: skip
    mine = hall.call("GET", "/api/v1/violations/mine", role="staff")
    assert sorted(r["id"] for r in mine) == sorted([v["unready1"], v["away1"], v["chat1"]])
    text = json.dumps(mine, ensure_ascii=False)
    for other in ("S0002", "S0003", "李红", "张伟", "主任陈明", "值班长赵强", "巡查赵强"):
        assert other not in text, other  # a colleague's punch, who confirmed it, who recorded it
    assert {r["name"] for r in mine} == {"王小明"}
    chat = next(r for r in mine if r["id"] == v["chat1"])
    assert chat["notice"] == notice["id"] and chat["evidence"][0]["note"] == "与邻窗闲聊"
    assert [(s["action"], s["actor"], s["role"]) for s in chat["steps"]][:2] == [
        ("detect", "", "gateway"), ("confirm", "", "manager")]  # fmt: skip
    (read,) = [r for r in _reads(hall, actor="窗口王小明") if r["what"] == "own"]
    assert read["filter"] == {"staff": "S0001"} and sorted(read["ids"]) == sorted(r["id"] for r in mine)

    # The appeal: of their own only; the notice signed by them.
    out = hall.call("POST", f"/api/v1/violations/{v['away1']}/appeal", role="staff", json={"note": "当时在处理急件"})
    assert out["state"] == "appealed"
    refused = hall.call("POST", f"/api/v1/violations/{v['phone2']}/appeal", role="staff", status=403,
                        json={"note": "x"})  # fmt: skip
    assert refused["error"] == "forbidden"
    (n,) = hall.call("GET", "/api/v1/notices", role="staff")
    assert n["id"] == notice["id"]
    signed = hall.call("POST", f"/api/v1/notices/{n['id']}/ack", role="staff", json={"note": "已知晓"})
    assert signed["state"] == "acknowledged" and signed["acked_by"] == "S0001"
    assert hall.call("GET", "/api/v1/violations/mine", role="staff2") == [] or all(
        r["staff"] == "S0002" for r in hall.call("GET", "/api/v1/violations/mine", role="staff2"))  # fmt: skip

    # The same person signed in with an account linked to their staff id.
    with httpx.Client(base_url=hall.base, timeout=10) as c:
        assert c.post("/api/v1/session", json={"username": "wang.xm", "password": PASSWORD}).status_code == 200
        got = c.get("/api/v1/violations/mine").json()
        assert sorted(r["id"] for r in got) == sorted(r["id"] for r in mine)
    assert _reads(hall, actor="wang.xm")[0]["what"] == "own"


def text(driver: Any, css: str) -> str:
    """An element's shown text, read in one script (the fragments redraw what a test reads)."""
    return driver.execute_script("return document.querySelector(arguments[0])?.innerText || ''", css)


def test_an_account_is_linked_only_to_a_staff_id_of_the_registry(hall: Hall) -> None:
    refused = (("staff", "S9999", "人员名册中没有这个工号"), ("manager", "S0001", "只有窗口工作人员"))
    for role, staff_id, says in refused:
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "user", "add", "-c", str(hall.folder / "hall.yaml"), "--role", role,
             "--staff-id", staff_id, "--password-stdin", f"x.{role}"],
            input=PASSWORD, text=True, capture_output=True, check=False,
        )  # fmt: skip
        assert out.returncode == 1 and says in out.stderr and "unknown_staff" in out.stderr, out.stderr


def _open(driver: Any, hall: Hall, path: str, role: str) -> None:
    driver.get("about:blank")
    driver.get(f"{hall.base}{path}#token={hall.tokens[role]}")
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, "html[data-rendered]"), 30, f"{path} drawn")


def _rules(driver: Any, width: int) -> None:
    assert codes_shown(driver, catalogue_codes()) == []
    assert outside_viewport(driver, width) == []
    assert console_errors(driver) == []


@pytest.mark.parametrize("width", [1280, 375])
def test_the_manager_page_ledger(hall: Hall, width: int) -> None:
    v = hall.ids
    _prepared(hall)
    with chromium(width, 900) as driver:
        _open(driver, hall, "/web/manager.html", "manager")

        def ids() -> list[int]:  # read in one script: the rows are redrawn under a test that reads them one by one
            return driver.execute_script(
                "return [...document.querySelectorAll('#ledger-rows tr[data-id]')].map((e) => +e.dataset.id)"
            )

        assert set(v.values()) <= set(ids())  # this month's, every state
        assert "王小明" in text(driver, "#dept-rows")
        assert "已达上限" in text(driver, "#dept-rows")
        _rules(driver, width)

        # A period the wrong way round: said in Chinese, nothing asked of the gateway.
        driver.execute_script("document.querySelector('#lf-end').value = '2020-01-01'")
        click(driver, "#lf-show")
        assert text(driver, "#ledger-error") == WORDS["range_reversed"][0]
        driver.execute_script("HG.$('#ledger-filter').querySelector('[data-range=this_month]').click()")
        driver.execute_script("document.querySelector('#lf-state').value = 'detected'")
        click(driver, "#lf-show")
        detected = {r["id"] for r in hall.call("GET", "/api/v1/violations", params={"state": "detected"})}
        wait(lambda: set(ids()) == detected, 10, "the detected ones only")

        # A record: its evidence and trail; a step without a reason refused in Chinese, then taken.
        target = v["away2"] if width == 1280 else v["phone3"]
        click(driver, f".open-record[data-id='{target}']")
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, f"#record-{target} [data-step=dismiss]"), 10, "the record")
        record = text(driver, f"#record-{target}")
        assert "设备发现" in record and ("签退" in record or "手机取出" in record)
        _rules(driver, width)
        click(driver, f"#record-{target} [data-step=dismiss]")
        click(driver, "#dlg-ok")
        assert text(driver, "#dlg-error") == WORDS["note_required"][0]
        driver.find_element(By.ID, "dlg-note").send_keys("录像显示为正常离岗交接")
        click(driver, "#dlg-ok")
        wait(lambda: "已撤销" in text(driver, f"#record-{target}"), 10, "dismissed")
        assert hall.call("GET", f"/api/v1/violations/{target}")["state"] == "dismissed"

        # The photo of a record that has one, fetched with the token.
        driver.execute_script("document.querySelector('#lf-state').value = ''")
        click(driver, "#lf-show")
        wait(lambda: v["unready1"] in ids(), 10, "every state again")
        click(driver, f".open-record[data-id='{v['unready1']}']")
        img = f"return document.querySelector('#record-{v['unready1']} .photo img')?.naturalWidth"
        wait(lambda: driver.execute_script(img), 10, "the photo")
        _rules(driver, width)


def test_the_staff_page_own_ledger(hall: Hall) -> None:
    v = hall.ids
    hall.call("POST", f"/api/v1/violations/{v['phone2']}/confirm", json={"reason": "监控核实"})
    notice = hall.call("POST", f"/api/v1/violations/{v['phone2']}/notice", status=201,
                       json={"text": "工作时间手机入柜", "deadline": "2099-01-01T12:00"})  # fmt: skip
    with chromium(375, 812) as driver:
        _open(driver, hall, "/web/staff.html", "staff2")
        mine = text(driver, "#mine-card")
        assert f"#{v['phone2']}" in mine and "违规使用手机" in mine
        for other in ("王小明", "张伟", "主任陈明", "S0001", "S0003"):
            assert other not in text(driver, "body"), other
        _rules(driver, 375)
        click(driver, f".appeal[data-id='{v['phone2']}']")
        click(driver, "#dlg-ok")
        assert text(driver, "#dlg-error") == WORDS["note_required"][0]
        driver.find_element(By.ID, "dlg-note").send_keys("当时在为群众查询信息")
        click(driver, "#dlg-ok")
        wait(lambda: "已申诉" in text(driver, "#mine-card"), 10, "appealed")
        click(driver, f".sign[data-id='{notice['id']}']")
        click(driver, "#dlg-ok")
        wait(lambda: "已签收" in text(driver, "#notices-card"), 10, "signed")
        _rules(driver, 375)
    assert hall.call("GET", f"/api/v1/violations/{v['phone2']}")["state"] == "appealed"
