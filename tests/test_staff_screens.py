"""The staff page in a real headless Chromium against a small hall (real Mosquitto, `hallgate run`,
the simulators with their fault control): an offline cabinet and a jammed slot look apart from a
normal one, the unlock rule is shown before the click, a deposit ends in a printable slip, a taken
door says why nothing opens, the pages check their forms in Chinese, and at 375x812 nothing of any
page lies beyond the screen."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.servers import Mosquitto, free_port
from tests.test_screens import BEYOND, attribute, chromium, click, console_errors, visible, wait

ALWAYS = '{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59:59.999999"}'
ROLES = ("staff", "duty_manager", "technician", "manager", "viewer")
# The browser's own bubble, which the pages must never leave a person with.
BUBBLES = ("Please fill", "Please enter", "请填写此字段")
SIM = (sys.executable, "-m", "firmware_sim", "hall")
QUIET = ("--rate", "0", "--seed", "1")  # no made-up activity: what changes is what a test does
CELLS = "[...document.querySelectorAll('#slots .cell')]"


@dataclass
class Hall:
    base: str
    control: str  # the simulators' fault control (HTTP)
    tokens: dict[str, str] = field(default_factory=dict)

    def fault(self, spec: dict[str, Any]) -> None:
        r = httpx.post(f"{self.control}/faults", json=spec)
        assert r.status_code == 200 and r.json()["ok"], r.text

    def get(self, path: str, role: str = "manager") -> Any:
        r = httpx.get(f"{self.base}/api/v1{path}", headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert r.status_code == 200, r.text
        return r.json()


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """A lockbox of 12 slots and a pickup locker, in working hours all day, and the simulators."""
    folder = tmp_path_factory.mktemp("staff")
    (folder / "mqtt").mkdir()
    broker = Mosquitto(folder / "mqtt")
    broker.start()
    try:
        yield from _hall(folder, broker)
    finally:
        broker.stop()


def _hall(folder: Path, broker: Mosquitto) -> Iterator[Hall]:
    api, control, modbus = free_port(), free_port(), free_port()
    tokens = {role: f"staff-screens-{role}-token-0123456789" for role in ROLES}
    config = folder / "hall.yaml"
    config.write_text(f"""
site: staff-hall
name: 窗口测试大厅
timezone: Asia/Shanghai
working_hours: {ALWAYS}
api:
  port: {api}
  tokens:
    - {{role: staff, env: T_STAFF, name: 窗口王芳}}
    - {{role: duty_manager, env: T_DUTY_MANAGER, name: 值班长赵强}}
    - {{role: technician, env: T_TECHNICIAN, name: 运维李工}}
    - {{role: manager, env: T_MANAGER, name: 主任陈明}}
    - {{role: viewer, env: T_VIEWER}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite}}
influx: {{api: none}}
devices:
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12,
      sim: {{self_service: false, door_open_after_s: 0.2, door_close_after_s: 0.5}}}}
  - {{id: locker-1, kind: pickup_locker, profile: ref-pickup-locker, poll_interval_s: 0.2,
      modbus: {{host: 127.0.0.1, port: {modbus}, unit: 1}}, sim: {{door_close_after_s: 0.6, items_ratio: 0}}}}
""")
    env = dict(os.environ) | {f"T_{role.upper()}": token for role, token in tokens.items()}
    sims = _spawn(
        [
            *SIM,
            "-c",
            str(config),
            "--broker",
            f"127.0.0.1:{broker.port}",
            "--http-control",
            str(control),
            *QUIET,
            "--state-dir",
            str(folder),
        ],
        folder / "sims.log",
        env,
    )
    gateway = _spawn([sys.executable, "-m", "gateway.cli", "run", "-c", str(config)], folder / "gw.log", env)
    try:
        h = Hall(f"http://127.0.0.1:{api}", f"http://127.0.0.1:{control}", tokens)

        def up() -> bool:
            for proc, log in ((sims, "sims.log"), (gateway, "gw.log")):
                assert proc.poll() is None, (folder / log).read_text()[-3000:]
            with contextlib.suppress(OSError, httpx.HTTPError):
                with urllib.request.urlopen(f"{h.control}/faults", timeout=2):
                    pass
                return all(d["online"] for d in h.get("/devices"))
            return False

        wait(up, timeout=30, what="the gateway and its devices up")
        yield h
    finally:
        for proc in (gateway, sims):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def open_page(driver: webdriver.Chrome, hall: Hall, path: str, role: str, ready: str) -> None:
    driver.get("about:blank")
    driver.get(f"{hall.base}{path}#token={hall.tokens[role]}")
    try:
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, ready), what=f"{path} drawn")
    except TimeoutError as e:
        raise AssertionError(f"{e}; console: {driver.get_log('browser')}") from None


def shown(driver: webdriver.Chrome, css: str) -> bool:
    """Shown now, asked in one step in the page (the state line is drawn anew every second)."""
    return driver.execute_script("return !!document.querySelector(arguments[0])?.offsetParent", css)


def text(driver: webdriver.Chrome, css: str) -> str:
    return driver.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", css)


def test_the_rule_is_shown_before_the_click_and_the_form_checks_in_chinese(hall: Hall) -> None:
    with chromium(1280, 900) as driver:
        # Staff in working hours: the rule above the grid, and a chosen slot's unlock off, saying why.
        open_page(driver, hall, "/web/staff.html", "staff", "#slots .cell")
        wait(lambda: "只有值班长" in text(driver, "#unlock-rule"), what="the rule for staff")
        assert "下班时间" in text(driver, "#unlock-rule"), text(driver, "#unlock-rule")
        assert attribute(driver, '#slots [data-slot="3"]', "data-may") == "0"
        click(driver, '#slots [data-slot="3"]')
        assert driver.find_element(By.ID, "unlock-btn").get_attribute("disabled") is not None
        assert "只有值班长" in text(driver, "#unlock-why")
        # The duty manager: may, with a reason. Without one, the page says so in Chinese and sends nothing.
        open_page(driver, hall, "/web/staff.html", "duty_manager", "#slots .cell")
        wait(lambda: "需填写开锁原因" in text(driver, "#unlock-rule"), what="the rule for the duty manager")
        click(driver, '#slots [data-slot="3"]')
        audit = hall.get("/audit?device=lb-1")
        driver.find_element(By.ID, "unlock-btn").click()
        wait(lambda: text(driver, "#unlock-form .error.check"), what="the page's own check")
        assert text(driver, "#unlock-form .error.check") == "请填写：开锁原因"
        assert not any(b in driver.find_element(By.TAG_NAME, "body").text for b in BUBBLES)
        assert driver.execute_script("return document.activeElement.id") == "unlock-reason"
        assert text(driver, "#unlock-outcome") == ""  # nothing was sent
        assert hall.get("/audit?device=lb-1") == audit
        # Every form of the page leaves checking to the page, not to the browser's bubbles.
        assert driver.execute_script("return document.querySelectorAll('form:not([novalidate])').length") == 0
        assert console_errors(driver) == []


def test_a_deposit_ends_in_a_slip_and_a_taken_door_says_why(hall: Hall, tmp_path: Path) -> None:
    with chromium(375, 812) as driver:  # on a phone: the slip fits it too
        open_page(driver, hall, "/web/staff.html", "staff", '#doors [data-free="1"]')
        door = attribute(driver, '#doors [data-free="1"]', "data-door")
        click(driver, f'#doors [data-door="{door}"]')
        # Empty fields: the page's Chinese words, not the browser's bubble.
        driver.find_element(By.ID, "deposit-btn").click()
        assert text(driver, "#deposit-form .error.check") == "请填写：物品；请填写：取件人"
        driver.find_element(By.ID, "deposit-item").send_keys("营业执照")
        driver.find_element(By.ID, "deposit-applicant").send_keys("张三")
        driver.find_element(By.ID, "deposit-btn").click()
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#deposit-ok, #deposit-fail"), what="deposit outcome")
        assert driver.find_elements(By.ID, "deposit-ok"), text(driver, "#deposit-outcome")
        # The form closed; the slip: code, QR, door, item, expiry, and a print button.
        assert not visible(driver, "#deposit-form")
        code = text(driver, "#pickup-code")
        lines = text(driver, "#slip-lines")
        assert code.isdigit() and len(code) == 6
        assert f"柜门 {door}" in lines and "物品：营业执照" in lines and "到期：" in lines, lines
        assert attribute(driver, "#pickup-qr", "data-qr").endswith(code)
        assert driver.find_element(By.ID, "slip-print").text == "打印取件凭条"
        assert driver.execute_script(BEYOND) == []
        driver.save_screenshot(str(tmp_path / "slip-375x812.png"))  # for review
        # Printed, the page is the slip alone: the header and the grid are not on paper.
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        shown = driver.execute_script(
            "const v = (s) => getComputedStyle(document.querySelector(s)).visibility;"
            "return [v('header'), v('#doors'), v('#pickup-code'), v('#pickup-qr svg'),"
            " getComputedStyle(document.querySelector('#slip-print').parentElement).display]"
        )
        assert shown == ["hidden", "hidden", "visible", "visible", "none"], shown
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        # The door now holds the item: a click on it says so rather than doing nothing.
        wait(lambda: attribute(driver, f'#doors [data-door="{door}"]', "data-free") == "0", what="the door taken")
        click(driver, f'#doors [data-door="{door}"]')
        assert text(driver, "#door-why") == f"柜门 {door}：该柜门已有物品待取，请选择空闲柜门"
        assert not visible(driver, "#deposit-form")
        assert console_errors(driver) == []


def test_a_jammed_slot_and_an_offline_cabinet_look_apart(hall: Hall, tmp_path: Path) -> None:
    # A jammed lock, found by an unlock the cabinet could not do.
    hall.fault({"fault": "jam", "device": "lb-1", "slot": 4})
    r = httpx.post(
        f"{hall.base}/api/v1/lockboxes/lb-1/slots/4/unlock",
        json={"reason": "取手机"},
        headers={"Authorization": f"Bearer {hall.tokens['duty_manager']}", "Idempotency-Key": "staff-jam-4"},
    )
    assert r.json()["error"] == "jammed", r.text
    with chromium(1280, 900) as driver:
        open_page(driver, hall, "/web/staff.html", "duty_manager", '#slots [data-state="jammed"]')
        states = driver.execute_script(f"return {CELLS}.map(c => c.dataset.state)")
        assert states[3] == "jammed" and {s for i, s in enumerate(states) if i != 3} == {"closed"}, states
        assert "卡住" in text(driver, '#slots [data-slot="4"]')
        jammed, normal = (
            driver.execute_script("return getComputedStyle(document.querySelector(arguments[0])).backgroundImage", css)
            for css in ('#slots [data-slot="4"]', '#slots [data-slot="5"]')
        )
        assert jammed != normal, (jammed, normal)
        click(driver, '#slots [data-slot="4"]')
        assert driver.find_element(By.ID, "unlock-btn").get_attribute("disabled") is not None
        assert text(driver, "#unlock-why") == "格口卡住，无法开启：请联系运维人员检修"
        # A jammed locker door (the board's bit 6: door 7, as the API numbers them), found by a deposit.
        hall.fault({"fault": "jam", "device": "locker-1", "door": 6})
        r = httpx.post(
            f"{hall.base}/api/v1/lockers/locker-1/doors/7/deposit",
            json={"item": "身份证", "applicant": "李四"},
            headers={"Authorization": f"Bearer {hall.tokens['staff']}", "Idempotency-Key": "staff-jam-door-7"},
        )
        assert r.json()["error"] == "jammed", r.text
        wait(lambda: attribute(driver, '#doors [data-door="7"]', "data-state") == "jammed", what="door 7 jammed")
        assert "卡住" in text(driver, '#doors [data-door="7"]')
        assert attribute(driver, '#doors [data-door="6"]', "data-state") == "free"
        click(driver, '#doors [data-door="7"]')
        assert text(driver, "#door-why") == "柜门 7：该柜门的锁卡住，不能存件：请选择其他柜门并联系运维人员"
        driver.save_screenshot(str(tmp_path / "jammed-1280x900.png"))  # for review
        # The cabinet drops off the network: every cell greyed, its last report named, no unlock.
        hall.fault({"fault": "offline", "device": "lb-1"})
        try:
            wait(lambda: shown(driver, "#cabinet-offline"), what="the cabinet shown offline")
            last = hall.get("/devices/lb-1")["last_seen"]
            assert text(driver, "#cabinet-offline") == f"离线（最后上报 {last[:16].replace('T', ' ')}）"
            wait(
                lambda: driver.execute_script(f"return {CELLS}.every(c => c.dataset.state === 'offline')"),
                what="every cell offline",
            )
            grey = driver.execute_script(f"return getComputedStyle({CELLS}[0]).backgroundColor")
            assert grey == "rgb(236, 238, 241)", grey
            click(driver, '#slots [data-slot="6"]')
            wait(lambda: text(driver, "#unlock-why") == "手机柜离线，无法开启：请联系运维人员", what="the reason")
            assert driver.find_element(By.ID, "unlock-btn").get_attribute("disabled") is not None
            driver.save_screenshot(str(tmp_path / "offline-1280x900.png"))  # for review
        finally:
            hall.fault({"fault": "clear", "device": "lb-1"})
        wait(lambda: not shown(driver, "#cabinet-offline"), timeout=15, what="the cabinet back")
        assert [e for e in console_errors(driver) if "status of 409" not in e] == []


PAGES = (
    ("/web/staff.html", "duty_manager", "#doors .cell"),
    ("/web/staff.html", "staff", "#slots .cell"),
    ("/", "viewer", "html[data-fragments]"),
    ("/web/tech.html", "technician", "#devices tr"),
    ("/web/manager.html", "manager", "html[data-fragments]"),
)


def test_on_a_phone_nothing_lies_beyond_the_screen(hall: Hall, tmp_path: Path) -> None:
    with chromium(375, 812) as driver:
        for path, role, ready in PAGES:
            open_page(driver, hall, path, role, ready)
            if path == "/web/staff.html":  # both grids drawn, and the forms open: their inputs and buttons must fit
                wait(lambda: shown(driver, '#slots [data-slot="2"]') and shown(driver, '#doors [data-free="1"]'))
                click(driver, '#slots [data-slot="2"]')
                click(driver, '#doors [data-free="1"]')
            driver.save_screenshot(str(tmp_path / f"{role}-375x812.png"))
            # every form, those the fragments drew too, is checked by the page in Chinese
            assert driver.execute_script("return document.querySelectorAll('form:not([novalidate])').length") == 0
            beyond = driver.execute_script(BEYOND)
            assert beyond == [], (path, role, beyond)
            assert driver.execute_script("return document.documentElement.scrollWidth") <= 375, path
        print("screenshots:", json.dumps(sorted(p.name for p in tmp_path.glob("*.png"))))
