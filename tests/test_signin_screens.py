"""The login box in a real headless Chromium against a real gateway: a person signs in with name
and password (checked in the page, in Chinese), the page shows who is signed in, 退出 ends the
session at the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto
from tests.test_commands import TOKENS, _hall
from tests.test_screens import chromium
from tests.test_signin import PASSWORD, add
from tests.waits import until

# The visible elements of a selector that reach past the viewport's right edge (their ids or tags).
OUTSIDE = """return [...document.querySelectorAll(arguments[0])]
  .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().right > window.innerWidth)
  .map((el) => el.id || el.tagName);"""


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"CMD_TOKEN_{name}", token)


def test_the_login_box_signs_a_person_in_and_out(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hall = _hall(tmp_path, mosquitto)
    add(monkeypatch, capsys, hall, "li.tech", "technician")
    cfg = load_config(hall)
    base = f"http://127.0.0.1:{cfg.api.port}"

    async def run() -> None:
        async with start_gateway(cfg) as gw:
            assert gw.view.signin is not None
            accounts = gw.view.signin.repo
            with chromium(1920, 1080) as driver:
                # Every browser call off the event loop: the gateway serving the page runs on it,
                # and a WebDriver call waits for a page load in progress.
                async def do(fn: Any, *args: Any) -> Any:
                    return await asyncio.to_thread(fn, *args)

                async def text(css: str) -> str:
                    return await do(
                        driver.execute_script, "return document.querySelector(arguments[0])?.textContent || ''", css
                    )

                async def shown(css: str) -> bool:
                    return bool(await do(driver.find_elements, By.CSS_SELECTOR, css))

                async def says(css: str, words: str) -> bool:
                    return words in await text(css)

                def submit(name: str, password: str) -> None:
                    for css, value in (("#user-input", name), ("#password-input", password)):
                        field = driver.find_element(By.CSS_SELECTOR, css)
                        field.clear()
                        field.send_keys(value)
                    driver.find_element(By.CSS_SELECTOR, "#signin button").click()

                await do(driver.get, f"{base}/web/tech.html")
                await until(lambda: shown("#signin"), what="the login box")
                assert await text("#login .error") == ""  # nobody signed in yet: no error, just the box
                # On a phone (375 px) every field and button of the box is on the screen.
                phone = {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True}
                await do(driver.execute_cdp_cmd, "Emulation.setDeviceMetricsOverride", phone)
                outside = await do(driver.execute_script, OUTSIDE, "#login input, #login button, #login summary")
                assert outside == [], outside
                wide = {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
                await do(driver.execute_cdp_cmd, "Emulation.setDeviceMetricsOverride", wide)
                await do(submit, "", "")
                await until(lambda: says("#login .error", "请填写登录名和密码"), what="the page's own check")
                await do(submit, "li.tech", "wrong password")
                await until(lambda: says("#login .error", "登录名或密码不正确"), what="the gateway's refusal")

                await do(submit, "li.tech", PASSWORD)
                await until(lambda: shown("#devices tr"), what="the page drawn")
                assert await text("#role") == "赵丽 · 运维人员"  # the person (tests/test_signin.py's add), the role
                cookie = await do(driver.get_cookie, "hallgate_session")
                assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
                assert accounts.sessions_of("li.tech") == 1
                # The page's requests carry no token: the session cookie alone.
                assert await do(driver.execute_script, "return sessionStorage.getItem('hallgate-token')") is None

                await do(driver.execute_script, "document.querySelector('#logout').click()")
                await until(lambda: shown("#signin"), what="the login box again")
                assert accounts.sessions_of("li.tech") == 0
                assert await do(driver.get_cookie, "hallgate_session") is None
                # The old session's token no longer opens anything.
                async with httpx.AsyncClient(base_url=base) as http:
                    r = await http.get("/api/v1/me", headers={"Cookie": f"hallgate_session={cookie['value']}"})
                assert r.status_code == 401

    asyncio.run(run())
