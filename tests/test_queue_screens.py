"""The queue's screens, as fragments its package brings (gateway/kinds/queue/pages/), in a real
headless Chromium against a real gateway and Mosquitto: the wall shows 当前等候 and the expected
wait per line, the manager page the day's tickets issued and served per hour and the waiting and
handling times per window, each the figure the API gives; a hall without a queue shows none of it."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.publish
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.servers import Mosquitto, free_port
from tests.test_screens import chromium, console_errors
from tests.waits import wait_for

SITE = "qs-hall"
TZ = ZoneInfo("Asia/Shanghai")
TOKENS = {"viewer": "queue-screens-viewer-token-0123456789", "manager": "queue-screens-manager-token-012345678"}
QUEUE = "  - {id: q-1, kind: queue, profile: ref-queue}"
PAD = "  - {id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}"
SNAPSHOT = {
    "lines": [
        {"line": "A", "name": "商事登记", "waiting": 3, "open_windows": ["W01", "W02"]},
        {"line": "B", "name": "社保医保", "waiting": 1, "open_windows": ["W03"]},
    ]
}


class Hall:
    """`hallgate run` on a hall file of the given devices, as a child process."""

    def __init__(self, folder: Path, mosquitto: Mosquitto, devices: str, extra: str = "") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.mqtt_port = mosquitto.port
        self.config = folder / "hall.yaml"
        self.config.write_text(
            f"site: {SITE}\ntimezone: Asia/Shanghai\n"
            f"api:\n  port: {self.port}\n  tokens:\n"
            "    - {role: viewer, env: HALLGATE_TOKEN_VIEWER}\n    - {role: manager, env: HALLGATE_TOKEN_MANAGER}\n"
            f"broker: {{host: 127.0.0.1, port: {mosquitto.port}}}\nstore: {{path: {folder}/outbox.sqlite}}\n"
            f"{extra}\ndevices:\n{devices}\n",
            encoding="utf-8",
        )
        self.log = folder / "gateway.log"

    def get(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.base}{path}", params=params, headers={"Authorization": f"Bearer {TOKENS['manager']}"})
        assert r.status_code == 200, r.text
        return r.json()

    @contextlib.contextmanager
    def running(self) -> Iterator[Hall]:
        env = dict(os.environ, **{f"HALLGATE_TOKEN_{role.upper()}": token for role, token in TOKENS.items()})
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "-c", str(self.config)], stdout=log, stderr=log, env=env
            )
        try:

            def up() -> bool:
                assert proc.poll() is None, self.log.read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    return httpx.get(f"{self.base}/readyz").status_code == 200
                return False

            wait_for(up, timeout=30, what="the gateway ready")
            yield self
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0, self.log.read_text()[-3000:]


def publish(hall: Hall, channel: str, payload: dict[str, Any], retain: bool = False) -> None:
    paho.mqtt.publish.single(
        f"hall/{SITE}/queue/q-1/{channel}",
        json.dumps(payload, ensure_ascii=False),
        qos=1,
        retain=retain,
        hostname="127.0.0.1",
        port=hall.mqtt_port,
    )


def a_morning(hall: Hall) -> tuple[str, int]:
    """Today's tickets, within the last ten minutes of today (hall time): served, waiting, missed.
    Returns the day and how many tickets were issued."""
    now = datetime.now(TZ)
    start = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=1, microsecond=0))
    steps = [
        ("A001", "issued", {"line": "A", "item": "营业执照设立登记", "source": "walk_in"}),
        ("A002", "issued", {"line": "A", "item": "营业执照变更登记", "source": "appointment"}),
        ("B001", "issued", {"line": "B", "item": "社保转移", "source": "walk_in"}),
        ("A001", "called", {"window": "W01", "staff_id": "S01"}),
        ("A001", "started", {"window": "W01", "staff_id": "S01"}),
        ("A002", "called", {"window": "W02", "staff_id": "S02"}),
        ("A002", "started", {"window": "W02", "staff_id": "S02"}),
        ("B001", "called", {"window": "W03", "staff_id": "S03"}),
        ("A003", "issued", {"line": "A", "item": "营业执照设立登记", "source": "walk_in"}),
        ("B001", "started", {"window": "W03", "staff_id": "S03"}),
        ("A001", "finished", {"window": "W01", "staff_id": "S01", "case_id": "C-1", "result": "done"}),
        ("A004", "issued", {"line": "A", "item": "营业执照设立登记", "source": "walk_in"}),
        ("A003", "called", {"window": "W01", "staff_id": "S01"}),
        ("A003", "no_show", {"window": "W01"}),
        ("B002", "issued", {"line": "B", "item": "社保转移", "source": "walk_in"}),
        ("A005", "issued", {"line": "A", "item": "营业执照设立登记", "source": "walk_in"}),
        ("B001", "finished", {"window": "W03", "staff_id": "S03", "case_id": "C-2", "result": "done"}),
        ("A002", "finished", {"window": "W02", "staff_id": "S02", "case_id": "C-3", "result": "done"}),
        ("A006", "issued", {"line": "A", "item": "营业执照设立登记", "source": "walk_in"}),
    ]
    gap = (now - start) / (len(steps) + 1)
    for seq, (ticket, kind_of_event, fields) in enumerate(steps, 1):
        ts = (start + gap * seq).isoformat(timespec="milliseconds")
        publish(hall, "event", {"seq": seq, "ts": ts, "ticket": ticket, "type": kind_of_event, **fields})
    publish(hall, "snapshot", {"ts": now.isoformat(timespec="milliseconds"), **SNAPSHOT}, retain=True)
    return now.date().isoformat(), sum(1 for _, e, _ in steps if e == "issued")


def open_page(driver: webdriver.Chrome, hall: Hall, path: str, role: str) -> None:
    driver.get("about:blank")
    driver.get(f"{hall.base}{path}#token={TOKENS[role]}")
    try:
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "html[data-fragments]"), what=f"{path}'s fragments")
    except TimeoutError as e:
        raise AssertionError(f"{e}; console: {driver.get_log('browser')}") from None


def text_of(driver: webdriver.Chrome, css: str) -> list[list[str]]:
    """The cells of each row (or the parts of each card) as shown, read in one script."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map((r) => [...r.children].map((c) => c.textContent.trim()))",
        css,
    )


def minutes(s: float | None) -> str:
    return "–" if s is None else f"{s / 60:.1f}"


def test_the_wall_and_the_manager_page_show_the_queue_as_the_api_gives_it(mosquitto: Mosquitto, tmp_path: Path) -> None:
    hall = Hall(tmp_path, mosquitto, QUEUE)
    with hall.running():
        day, issued = a_morning(hall)
        wait_for(
            lambda: hall.get("/api/v1/queue/summary", date=day)["total"]["issued"] == issued, what="every ticket kept"
        )
        lines = wait_for(lambda: (ls := hall.get("/api/v1/queue")) and all(x["waiting"] is not None for x in ls) and ls)
        # the morning as published: three wait in A, one in B, and a ticket taken now has a wait to expect
        assert [(x["line"], x["waiting"], x["events_waiting"]) for x in lines] == [("A", 3, 3), ("B", 1, 1)]
        assert all(x["expected_wait_s"] for x in lines), lines
        with chromium(1920, 1080) as driver:
            open_page(driver, hall, "/", "viewer")
            card = driver.find_element(By.ID, "queue-card")
            assert "排队等候" in card.text
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#queue-lines [data-line]"), what="the lines drawn")
            shown = driver.execute_script(
                "return [...document.querySelectorAll('#queue-lines [data-line]')].map((l) => [l.dataset.line,"
                " l.querySelector('.queue-name').textContent, l.querySelector('[data-waiting]').textContent,"
                " l.querySelector('[data-expected]').textContent, l.textContent])"
            )
            assert [s[:4] for s in shown] == [
                [x["line"], x["name"], str(x["waiting"]), str(math.ceil(x["expected_wait_s"] / 60))] for x in lines
            ]
            assert all("当前等候" in s[4] and "预计等候" in s[4] and "分钟" in s[4] for s in shown), shown
            # read from across the hall: no text of the card under 24 px on the wall screen
            sizes = driver.execute_script(
                "return [...document.querySelectorAll('#queue-card *')].filter((e) => [...e.childNodes]"
                ".some((n) => n.nodeType === 3 && n.textContent.trim())).map((e) => [e.textContent.trim(),"
                " parseFloat(getComputedStyle(e).fontSize)])"
            )
            assert sizes and [(t, px) for t, px in sizes if px < 24] == []
            # the card is on the screen, not cut off below it (a wall is never scrolled)
            bottom = driver.execute_script(
                "return document.querySelector('#queue-lines').getBoundingClientRect().bottom"
            )
            assert bottom <= 1080
            driver.save_screenshot(str(tmp_path / "wall-with-a-queue-1920x1080.png"))
            assert console_errors(driver) == []

            open_page(driver, hall, "/web/manager.html", "manager")
            date = driver.find_element(By.ID, "queue-date").get_attribute("value")
            hours = hall.get("/api/v1/queue/summary", date=date, by="hour")["groups"]
            windows = hall.get("/api/v1/queue/summary", date=date, by="window")["groups"]
            assert sum(g["issued"] for g in hours) == issued and sum(g["served"] for g in windows) == 3
            # the curve: each hour's issued and served bars, with the figures as their titles
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#queue-chart svg rect"), what="the day's curve")
            titles = driver.execute_script(
                "return [...document.querySelectorAll('#queue-chart rect title')].map((t) => t.textContent)"
            )
            for g in hours:
                assert f"{g['key']}:00 取号: {g['issued']}" in titles and f"{g['key']}:00 办结: {g['served']}" in titles
            # the windows' table: tickets, served, no-shows, waiting and handling (mean, 90 %) in minutes
            rows = text_of(driver, "#queue-windows tr[data-window]")
            assert rows == [
                [
                    g["key"],
                    str(g["tickets"]),
                    str(g["served"]),
                    str(g["no_shows"]),
                    minutes(g["waiting"]["mean_s"]),
                    minutes(g["waiting"]["p90_s"]),
                    minutes(g["handling"]["mean_s"]),
                    minutes(g["handling"]["p90_s"]),
                ]
                for g in windows
                if g["key"]  # the tickets no window has called yet are no window's
            ]
            assert [r[0] for r in rows] == ["W01", "W02", "W03"] and rows[0][3] == "1"  # W01 missed A003
            heads = driver.find_element(By.CSS_SELECTOR, "#queue-day thead").text
            assert "平均等候" in heads and "平均办理" in heads
            driver.execute_script("document.getElementById('queue-day').scrollIntoView()")
            driver.save_screenshot(str(tmp_path / "manager-with-a-queue-1920x1080.png"))
            assert console_errors(driver) == []


def test_a_hall_without_a_queue_shows_none_of_it(mosquitto: Mosquitto, tmp_path: Path) -> None:
    hall = Hall(tmp_path, mosquitto, PAD)
    with hall.running():
        kinds = hall.get("/api/v1/kinds")
        queue = [k for k in kinds if k["name"] == "queue"]
        # registered, with its wall and manager fragments, and not in this hall
        assert queue and {"wall", "manager"} <= set(queue[0]["fragments"]) and queue[0]["devices"] == 0
        with chromium(1920, 1080) as driver:
            for path, role in (("/", "viewer"), ("/web/manager.html", "manager")):
                open_page(driver, hall, path, role)
                # the pad's own fragments (its ratings on the wall and the manager page) may be there; the queue's not
                assert not driver.find_elements(By.CSS_SELECTOR, '[data-kind="queue"], #queue-card, #queue-day')
                body = driver.find_element(By.TAG_NAME, "body").text
                assert "排队等候" not in body and "取号" not in body, path
                assert console_errors(driver) == []
                scripts = driver.execute_script("return [...document.scripts].map((s) => s.src)")
                assert not [s for s in scripts if "/web/fragments/queue/" in s], path
