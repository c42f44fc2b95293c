"""The reports on the manager page in a real headless Chromium against a real gateway (its clock
the only fake, moved across Monday 08:00 while it runs): the scheduled week's report and a
manager's day report that failed, each with its kind, period, state, when it was made, its files
to download and its deliveries (the mail server is down: retried, and the page says so); the
failed one says why; the schedule's next runs above. The page rules of tests/page_rules.py hold
(no code as a word, nothing beyond a phone's screen)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from gateway.config.load import load_config
from gateway.features.reports import schedule
from gateway.features.reports.schedule import Scheduler
from gateway.runtime import start_gateway
from tests.page_rules import catalogue_codes, codes_shown, outside_viewport
from tests.servers import free_port
from tests.test_report_delivery import ns
from tests.test_screens import chromium, console_errors
from tests.waits import until

TOKEN = "report-screens-manager-0123456789abcd"


def hall_file(tmp: Path) -> Path:
    hall = tmp / "hall.yaml"
    hall.write_text(f"""
site: screens-hall
name: 页面测试大厅
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER, name: 王经理}}]
store: {{path: {tmp}/outbox.sqlite}}
reports:
  delivery:
    email: {{host: 127.0.0.1, port: {free_port()}, security: none, from: gw@hall.example, to: [office@hall.example]}}
""")
    return hall


def test_the_manager_page_lists_the_reports_with_their_state_files_and_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    now = [ns("2026-11-30 07:59")]
    monkeypatch.setattr(schedule, "now_ns", lambda: now[0])
    asyncio.run(_page(load_config(hall_file(tmp_path)), tmp_path, now))


async def _page(cfg: Any, tmp: Path, now: list[int]) -> None:
    base = f"http://127.0.0.1:{cfg.api.port}"
    http = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, start_gateway(cfg) as gw:
        plan = gw.view.served(Scheduler)
        assert plan is not None and await plan.check() == []
        now[0] = ns("2026-11-30 08:00")  # 08:00 on Monday, the gateway running
        [week] = await plan.check()
        # a manager's report whose files cannot be written (its folder is taken by a file)
        (tmp / "reports" / str(week + 1)).write_text("in the way")
        failed = (await http.post("/api/v1/reports", json={"kind": "day", "period": "2026-11-29"})).json()
        assert failed["status"] == "failed" and failed["reason"].startswith("报告文件写入失败")

        async def retried() -> bool:
            row = (await http.get(f"/api/v1/reports/{week}")).json()
            return bool(row["deliveries"] and row["deliveries"][0]["attempts"] >= 1)

        await until(retried, what="the e-mail to a server that is down retried")
        made = (await http.get(f"/api/v1/reports/{week}")).json()["finished"]
        await asyncio.to_thread(_look, base, week, failed["id"], made[:16].replace("T", " "))


def _look(base: str, week: int, failed: int, made: str) -> None:
    with chromium(1280, 900) as driver:
        for width, height in ((1280, 900), (375, 812)):  # one browser, its viewport set for each (a phone's too)
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            driver.get("about:blank")
            driver.get(f"{base}/web/manager.html#token={TOKEN}")
            asyncio.run(until(lambda: driver.find_elements(By.CSS_SELECTOR, f"#report-{failed}"), what="the list"))
            row = driver.find_element(By.ID, f"report-{week}").text
            assert "周报" in row and "定时" in row and "2026-W48" in row and "已生成" in row, row
            assert "PDF" in row and "XLSX" in row and "JSON" in row and made in row
            assert "邮件 email：发送失败，重试中 retrying" in row and "失败次数" in row and "无法连接邮件服务器" in row
            bad = driver.find_element(By.ID, f"report-{failed}").text
            assert "日报 day" in bad and "生成失败 failed" in bad and "报告文件写入失败" in bad and "PDF" not in bad
            plan = driver.find_element(By.ID, "reports-plan").text
            assert "定时生成：周报 week 2026-12-07 08:00（2026-W49）" in plan
            assert "月报 month 2026-12-01 08:00（2026-11）" in plan
            assert codes_shown(driver, catalogue_codes()) == []
            assert outside_viewport(driver, width) == []
            if width > 1000:  # a download: the file the API serves, under its name
                driver.find_element(By.CSS_SELECTOR, f'button[data-ref="{week}.xlsx"]').click()
                box = driver.find_element(By.CSS_SELECTOR, '[data-fragment="reports"]')
                got = asyncio.run(until(lambda b=box: b.get_attribute("data-downloaded"), what="the download"))
                assert got == "report-week-2026-W48.xlsx"
            assert console_errors(driver) == []
