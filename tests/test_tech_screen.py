"""The technician's page in a real headless Chromium against a demo hall (issue 22), at a desk
screen's 1920x1080 and a phone's 375x812: alerts above the devices, every state by its Chinese
label, a 差评 alert without a 关闭 button (the managers close it in its work order), a device's
diagnosis (why, since when, last seen, last error, link state), and no button off the screen.

The rule for "no code in visible text" is tests/page_rules.py's, checked here against itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_support import Demo
from tests.page_rules import buttons_off_screen, catalogue_codes, codes_shown
from tests.test_screens import a_bad_rating, chromium, console_errors, demo_hall, open_page, wait

SIZES = ((1920, 1080), (375, 812))


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with demo_hall(tmp_path_factory.mktemp("tech-hall")) as demo:
        yield demo


def test_the_rule_finds_a_code_in_text_and_not_where_it_is_marked_as_one(hall: Demo) -> None:
    """The check itself: a bare `offline` is found; one in <code>, `.code` or a title is not."""
    codes = catalogue_codes()
    assert {"offline", "degraded", "open", "critical", "low_battery", "up"} <= codes
    with chromium(800, 600) as driver:
        driver.get(f"{hall.base}/web/tech.html")
        driver.execute_script(
            "document.body.innerHTML = '<p>设备 offline 了</p><p><code>open</code>"
            ' <small class="code">critical</small><span title="degraded">异常</span></p>'
            "<select><option>正常</option><option>ok</option></select>'"
        )
        assert codes_shown(driver, codes) == [("offline", "设备 offline 了")]


def test_the_tech_page_shows_labels_not_codes_and_every_button_on_screen(hall: Demo, tmp_path: Path) -> None:
    demo = hall
    a_bad_rating(demo, "320111-2026-2200001")

    def active() -> list[dict[str, Any]]:
        return httpx.get(f"{demo.base}/api/v1/alerts?state=active", headers=demo.headers).json()

    bad = wait(lambda: next((a for a in active() if a["rule"] == "bad_rating"), None), what="the 差评 alert")
    device = sorted(d["id"] for d in demo.devices())[0]
    codes = catalogue_codes()
    for width, height in SIZES:
        with chromium(width, height) as driver:
            # The page with a device's diagnosis open, as a technician who picked it.
            row_css = f'#alerts tr[data-alert="{bad["id"]}"]'
            open_page(driver, demo, f"/web/tech.html?device={device}", "technician", row_css)
            wait(lambda: driver.find_elements("css selector", "html[data-rendered] table.diagnosis"), what="drawn")
            driver.save_screenshot(str(tmp_path / f"tech-{width}x{height}.png"))
            # Alerts come before the device list.
            order = driver.execute_script(
                "const a = document.querySelector('#alerts'), d = document.querySelector('#devices');"
                "return a.compareDocumentPosition(d) & Node.DOCUMENT_POSITION_FOLLOWING"
            )
            assert order, "the alerts are not above the devices"
            # The 差评 alert: acknowledge, but no 关闭; it says who closes it and where.
            row = driver.find_element("css selector", row_css)
            assert row.find_elements("css selector", "[data-ack]")
            assert not row.find_elements("css selector", "[data-close]")
            assert "差评工单" in row.text and "值班长" in row.text, row.text
            # The diagnosis: why, since when, last seen, last error, the link's state by its label.
            diagnosis = driver.find_element("css selector", "table.diagnosis").text
            for word in ("原因", "最后上报", "最近错误", "链路状态"):
                assert word in diagnosis, diagnosis
            assert codes_shown(driver, codes) == []
            assert buttons_off_screen(driver, width) == []
            assert console_errors(driver) == []
    print(f"screenshots: {tmp_path}")
