"""The manager page in a real headless Chromium against a real gateway and Mosquitto: its cards come
from the kinds' packages (occupancy history from the people counter, ratings and 差评 work orders
from the rating pad, attendance from the attendance machine); quick ranges set the range, a bad
range is refused in Chinese with no chart of another range left beside it, 好评率 is coloured by
the hall's own thresholds, the work orders filter and show their history, and an XLSX export holds
the figures shown as numbers. A hall without those kinds shows none of their cards."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import paho.mqtt.publish
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.servers import Mosquitto, free_port
from tests.test_queue_screens import QUEUE, SITE, TOKENS, TZ, Hall, open_page
from tests.test_screens import chromium, console_errors
from tests.waits import wait_for

PADS = {"rp-1": "W01", "rp-2": "W02", "rp-3": "W03"}


def devices() -> str:
    """Three pads, a people counter (its Modbus address answers nothing: no history, a chart of
    empty hours) and an attendance machine; the hall's 好评率 thresholds 90 % and 60 %."""
    pad = "  - {{id: {}, kind: rating_pad, profile: ref-rating-pad, window: {}}}\n"
    pads = "".join(pad.format(d, w) for d, w in PADS.items())
    return (
        pads + "  - {id: pc-1, kind: people_counter, profile: ref-people-counter, zone: hallway,"
        f" modbus: {{host: 127.0.0.1, port: {free_port()}, unit: 1}}}}\n"
        "  - {id: att-1, kind: attendance, profile: ref-attendance}\n"
        "zones: [{id: hallway, name: 大厅走廊, capacity: 50}]\n"
        "ratings: {good_rate_ok: 0.9, good_rate_low: 0.6}"
    )


def rate(hall: Hall, device: str, seq: int, score: int, reasons: list[str] | None = None) -> None:
    event = {
        "seq": seq,
        "ts": datetime.now(TZ).isoformat(timespec="milliseconds"),
        "type": "rated",
        "case_id": f"320111-2026-{seq:07d}-{device}",
        "window": PADS[device],
        "staff_id": f"S{PADS[device][1:]}",
        "ticket": f"A{seq:03d}",
        "item": "营业执照设立登记",
        "score": score,
        "reasons": reasons or [],
    }
    paho.mqtt.publish.single(
        f"hall/{SITE}/rating/{device}/event", json.dumps(event), qos=1, hostname="127.0.0.1", port=hall.mqtt_port
    )


def export(hall: Hall, path: str, **params: str) -> bytes:
    r = httpx.get(
        f"{hall.base}{path}",
        params={**params, "format": "xlsx"},
        headers={"Authorization": f"Bearer {TOKENS['manager']}"},
    )
    assert r.status_code == 200 and r.headers["content-type"].endswith("spreadsheetml.sheet"), r.text
    return r.content


def script(driver: webdriver.Chrome, js: str, *args: Any) -> Any:
    return driver.execute_script(js, *args)


def shown(driver: webdriver.Chrome, css: str) -> str | None:
    """What the chart or table on screen shows (start/end/step or group), as the page marks it."""
    return script(driver, "return document.querySelector(arguments[0])?.dataset.shown", css)


def pick_range(driver: webdriver.Chrome, card: str, which: str) -> None:
    script(driver, f"document.querySelector('{card} [data-range=\"{which}\"]').click()")


def range_of(driver: webdriver.Chrome, start: str, end: str) -> tuple[str, str]:
    return tuple(
        script(driver, f"return [document.querySelector('{start}').value, document.querySelector('{end}').value]")
    )


def expected_ranges(today: date) -> dict[str, tuple[str, str]]:
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return {
        "today": (today.isoformat(), today.isoformat()),
        "this_week": ((today - timedelta(days=today.weekday())).isoformat(), today.isoformat()),
        "this_month": (first.isoformat(), today.isoformat()),
        "last_month": (last_month_end.replace(day=1).isoformat(), last_month_end.isoformat()),
    }


def test_the_manager_page_from_the_kinds_packages(mosquitto: Mosquitto, tmp_path: Path) -> None:
    hall = Hall(tmp_path, mosquitto, devices())
    with hall.running():
        # W01: 5 and 1 (50 %, red under 60 %), W02: 5 5 5 4 (100 %, green), W03: 5 5 5 1 (75 %, amber)
        for seq, (device, score) in enumerate(
            [("rp-1", 5), ("rp-1", 1), *[("rp-2", 5)] * 3, ("rp-2", 4), *[("rp-3", 5)] * 3, ("rp-3", 1)],
            1,
        ):
            rate(hall, device, seq, score, ["attitude"] if score == 1 else None)
        wait_for(lambda: hall.get("/api/v1/ratings/summary")["total"]["rated"] == 10, what="the ratings counted")
        orders = wait_for(lambda: len(o := hall.get("/api/v1/workorders")) == 2 and o, what="two work orders")
        w01 = next(o for o in orders if o["window"] == "W01")
        r = httpx.post(
            f"{hall.base}/api/v1/workorders/{w01['id']}/callback",
            json={"note": "已电话回访市民"},
            headers={"Authorization": f"Bearer {TOKENS['manager']}"},
        )
        assert r.status_code == 200, r.text
        today = datetime.now(TZ).date()
        with chromium(1920, 1080) as driver:
            downloads = tmp_path / "downloads"
            downloads.mkdir()
            driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            open_page(driver, hall, "/web/manager.html", "manager")
            assert script(driver, "return document.documentElement.dataset.fragments") == "4"  # and the reports' list
            for card in ("#occ-card", "#rat-card", "#wo-card", "#att-card", "[data-may='GET /api/v1/audit']"):
                assert driver.find_elements(By.CSS_SELECTOR, card), card

            # -- occupancy history: today by the hour by default, quick ranges, bad ranges ---------
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#occ-chart svg"), what="the history drawn")
            assert range_of(driver, "#occ-start", "#occ-end") == (today.isoformat(), today.isoformat())
            assert driver.find_element(By.ID, "occ-step").get_attribute("value") == "hour"
            hour = datetime.now(TZ).hour
            assert int(driver.find_element(By.ID, "occ-chart").get_attribute("data-bars")) in (hour + 1, hour + 2)
            for which, expected in expected_ranges(today).items():
                pick_range(driver, "#occ-card", which)
                assert range_of(driver, "#occ-start", "#occ-end") == expected, which
                pick_range(driver, "#rat-card", which)
                assert range_of(driver, "#rat-start", "#rat-end") == expected, which
            week = expected_ranges(today)["this_week"]
            pick_range(driver, "#occ-card", "this_week")
            wait_for(lambda: shown(driver, "#occ-chart") == f"{week[0]}/{week[1]}/hour", what="the week drawn")
            script(
                driver,
                "document.querySelector('#occ-start').value = arguments[0];"
                "document.querySelector('#occ-end').value = arguments[1];"
                "document.querySelector('#occ-form').requestSubmit()",
                today.isoformat(),
                (today - timedelta(days=3)).isoformat(),
            )
            assert driver.find_element(By.ID, "occ-error").text == "结束日期早于开始日期，请重新选择"
            assert not driver.find_elements(By.CSS_SELECTOR, "#occ-chart svg")  # the old chart is gone
            pick_range(driver, "#occ-card", "today")
            wait_for(lambda: shown(driver, "#occ-chart") == f"{today}/{today}/hour", what="today drawn again")
            assert driver.find_element(By.ID, "occ-error").text == ""
            script(
                driver,
                "document.querySelector('#occ-step').value = 'minute';"
                "document.querySelector('#occ-start').value = arguments[0];"
                "document.querySelector('#occ-form').requestSubmit()",
                (today - timedelta(days=2)).isoformat(),
            )
            assert driver.find_element(By.ID, "occ-error").text == "时间段太长：最多 1 天，请缩短时间段"
            assert not driver.find_elements(By.CSS_SELECTOR, "#occ-chart svg")

            # -- ratings: coloured by the hall's thresholds, reasons in Chinese, the XLSX ---------
            pick_range(driver, "#rat-card", "today")
            wait_for(lambda: shown(driver, "#ratings") == f"{today}/{today}/window", what="today's windows")
            colours = script(
                driver,
                "return Object.fromEntries([...document.querySelectorAll('#ratings tr[data-key]')]"
                ".map((tr) => [tr.dataset.key, tr.querySelector('[data-good]')])"
                ".map(([key, td]) => [key, [td.className, td.textContent]]))",
            )
            assert colours == {"W01": ["bad", "50%"], "W02": ["ok", "100%"], "W03": ["warn", "75%"]}
            assert "好评率：≥ 90% 绿色，< 60% 红色" in driver.find_element(By.ID, "rat-thresholds").text
            assert "服务态度 attitude" in driver.find_element(By.CSS_SELECTOR, '#ratings tr[data-key="W01"]').text
            script(driver, "document.querySelector('#rat-export [data-format=\"xlsx\"]').click()")
            wait_for(lambda: list(downloads.glob("*.xlsx")), what="the XLSX saved")
            (xlsx,) = downloads.glob("*.xlsx")
            assert xlsx.name.startswith("评价统计_按窗口_")
            sheet = openpyxl.load_workbook(xlsx).active
            rows = list(sheet.iter_rows(values_only=True))
            summary = hall.get("/api/v1/ratings/summary", by="window", start=f"{today}T00:00", end=f"{today}T23:59:59")
            assert rows[0] == ("分组", "已评", "未评", "评价率", "好评率", "差评率", "平均分", "差评原因")
            for row, g in zip(rows[1:], [summary["total"], *summary["groups"]], strict=True):
                figures = ("rated", "unrated", "rating_rate", "good_rate", "bad_rate", "mean")
                assert row[1:7] == tuple(g[f] for f in figures)
            assert [r[0] for r in rows[1:]] == ["全部", "W01", "W02", "W03"]
            assert rows[2][7] == "服务态度 1"  # W01's 差评 reason, in Chinese
            assert sheet["E3"].number_format == "0.0%" and isinstance(sheet["B3"].value, int)

            # -- work orders: Chinese states, filters, history --------------------------------------
            wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#workorders tr[data-id]")) == 2, what="orders")
            row = driver.find_element(By.CSS_SELECTOR, f'#workorders tr[data-id="{w01["id"]}"]')
            assert "已回访 called_back" in row.text

            def shown_orders(state: str = "", window: str = "", overdue: bool = False) -> list[tuple[str, str]]:
                script(
                    driver,
                    "document.querySelector('#wo-state').value = arguments[0];"
                    "document.querySelector('#wo-window').value = arguments[1];"
                    "document.querySelector('#wo-overdue').checked = arguments[2];"
                    "document.querySelector('#workorders').innerHTML = '';"
                    "document.querySelector('#wo-form').requestSubmit()",
                    state,
                    window,
                    overdue,
                )
                wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#workorders tr"), what="the orders listed")
                return [
                    tuple(r)
                    for r in script(
                        driver,
                        "return [...document.querySelectorAll('#workorders tr[data-id]')]"
                        ".map((tr) => [tr.children[3].textContent, tr.dataset.state])",
                    )
                ]

            assert sorted(shown_orders()) == [("W01", "called_back"), ("W03", "open")]
            assert shown_orders(window="W03") == [("W03", "open")]
            assert shown_orders(state="called_back") == [("W01", "called_back")]
            assert shown_orders(state="open", window="W01") == []
            assert shown_orders(overdue=True) == []  # the deadline is 15 working days away
            assert driver.find_element(By.ID, "workorders").text == "无"
            shown_orders(window="W01")
            # the export writes the orders as filtered: W01's only, its state in Chinese
            script(driver, "document.querySelector('#wo-export [data-format=\"csv\"]').click()")
            (orders_csv,) = wait_for(lambda: list(downloads.glob("*.csv")), what="the CSV saved")
            written = list(csv.reader(io.StringIO(orders_csv.read_text(encoding="utf-8-sig"))))
            assert written[0][:3] == ["工单号", "状态", "已超期"] and len(written) == 2
            number, state, _, _, window, _, _, reasons, *_ = written[1]
            assert (number, state, window, reasons) == (str(w01["id"]), "已回访", "W01", "服务态度")
            script(driver, f"document.querySelector('#workorders [data-log=\"{w01['id']}\"]').click()")
            of_w01 = f'tr[data-log-of="{w01["id"]}"] tbody tr'
            log = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, of_w01), what="the history")
            steps = [row.text for row in log]
            assert len(steps) == 2 and "开单" in steps[0] and "待处理 open" in steps[0], steps
            assert all(word in steps[1] for word in ("回访 callback", "已回访 called_back", "已电话回访市民")), steps

            # -- attendance: a day without punches ----------------------------------------------------
            assert driver.find_element(By.ID, "attendance-days").text == "无"
            driver.save_screenshot(str(tmp_path / "manager-1920x1080.png"))
            assert console_errors(driver) == []

            # -- the wall's 好评率 by the same thresholds (it was green whatever it was: 0 % too) ------
            open_page(driver, hall, "/", "manager")
            wait_for(
                lambda: driver.find_elements(By.CSS_SELECTOR, "#by-window td[data-good]"), what="the wall's ratings"
            )
            wall = script(
                driver,
                "return [document.querySelector('#good-rate').className,"
                " [...document.querySelectorAll('#by-window tr')]"
                ".map((tr) => [tr.cells[0].textContent, tr.querySelector('[data-good]').className])]",
            )
            assert wall == ["big warn", [["W01", "bad"], ["W03", "warn"], ["W02", "ok"]]], wall  # 80 % in all
        # the other exports, asked for directly: the history's hours and a day's attendance, as numbers
        day_of = {"start": f"{today}T00:00", "end": f"{today}T23:59"}
        xlsx = export(hall, "/api/v1/occupancy/history/export", **day_of)
        history = openpyxl.load_workbook(io.BytesIO(xlsx)).active
        assert [c.value for c in history[1]] == ["时段开始", "进入", "离开", "人数"]
        assert history.title == "客流历史_全厅"
        # every hour of today so far, as the chart: no one was counted (the counter answers nothing)
        hours = list(history.iter_rows(min_row=2, values_only=True))
        assert len(hours) in (datetime.now(TZ).hour + 1, datetime.now(TZ).hour + 2)
        assert hours[0][0] == datetime.combine(today, datetime.min.time()) and hours[0][1:] == (0, 0, None)
        day = openpyxl.load_workbook(io.BytesIO(export(hall, "/api/v1/attendance/daily/export"))).active
        assert [c.value for c in day[1]][:3] == ["工号", "首次签到", "最后签退"] and day.max_row == 1  # nobody punched
        with chromium(375, 812) as driver:  # a phone: no card wider than the screen
            open_page(driver, hall, "/web/manager.html", "manager")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#workorders tr[data-id]"), what="the orders")
            wide = script(
                driver,
                "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 375"
                " && !e.closest('.scroll')).map((e) => `${e.tagName}#${e.id}.${e.className}`)",
            )
            assert wide == [] and script(driver, "return document.documentElement.scrollWidth") <= 375, wide
            driver.save_screenshot(str(tmp_path / "manager-375x812.png"))


def test_a_hall_without_the_kinds_shows_none_of_their_cards(mosquitto: Mosquitto, tmp_path: Path) -> None:
    hall = Hall(tmp_path, mosquitto, QUEUE)  # a queue only: no counter, pad or attendance machine
    with hall.running(), chromium(1920, 1080) as driver:
        open_page(driver, hall, "/web/manager.html", "manager")
        assert script(driver, "return document.documentElement.dataset.fragments") == "2"  # the queue's day
        assert [e.get_attribute("data-kind") for e in driver.find_elements(By.CSS_SELECTOR, "[data-fragment]")] == [
            "queue",
            "reports",  # a feature: in every hall
        ]
        cards = "#occ-card, #rat-card, #wo-card, #att-card, #occ-chart, #ratings, #workorders, #attendance-days"
        assert not driver.find_elements(By.CSS_SELECTOR, cards)
        body = driver.find_element(By.TAG_NAME, "body").text
        for word in ("客流历史", "评价统计", "差评整改工单", "考勤"):
            assert word not in body
        assert console_errors(driver) == []
