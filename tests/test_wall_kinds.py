"""The wall shows what the hall has: each card comes from its kind's package as a fragment (the
hall's people from the counters, the ratings and 差评 from the pads, the posts from the attendance
machines, the lines from the queue system), so a hall with only a queue shows only the queue and a
hall with only counters only its zones, each without a failed request. Its 评价率 is counted
against the visits served where a queue system counts them, else against the pads' prompts, and
says which. In a real headless Chromium against a real gateway, Mosquitto and counter simulators."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.publish
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.servers import Mosquitto, free_port, wait_for_port
from tests.test_queue_screens import PAD, QUEUE, SITE, TOKENS, TZ, Hall, a_morning
from tests.test_screens import chromium, console_errors
from tests.waits import wait_for

# The cards each kind brings to the wall (their ids), and the page's own (the devices' alerts).
CARDS = {
    "people_counter": {"zones-card", "flow-card"},
    "rating_pad": {"ratings-card", "bad-card"},
    "attendance": {"posts-card"},
    "queue": {"queue-card"},
}


def open_wall(driver: webdriver.Chrome, hall: Hall, role: str) -> None:
    """The wall drawn: the page's own parts and every fragment's first data."""
    driver.get("about:blank")
    driver.get(f"{hall.base}/#token={TOKENS[role]}")
    try:
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "html[data-rendered]"), what="the wall drawn")
    except TimeoutError as e:
        raise AssertionError(f"{e}; console: {driver.get_log('browser')}") from None


def shown(driver: webdriver.Chrome) -> tuple[list[str], set[str]]:
    """The kinds whose fragments the wall runs, and the cards it shows."""
    return driver.execute_script(
        "return [[...document.querySelectorAll('[data-fragment]')].map((f) => f.dataset.kind),"
        " [...document.querySelectorAll('main section.card')].filter((c) => c.offsetParent).map((c) => c.id)]"
    )


def visible_cards(driver: webdriver.Chrome) -> set[str]:
    return set(shown(driver)[1])


def test_a_hall_with_only_a_queue_shows_only_the_queue_on_the_wall(mosquitto: Mosquitto, tmp_path: Path) -> None:
    hall = Hall(tmp_path, mosquitto, QUEUE)
    with hall.running():
        a_morning(hall)
        with chromium(1920, 1080) as driver:
            for role, own in (("viewer", set()), ("manager", {"alerts-card"})):
                open_wall(driver, hall, role)
                wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#queue-lines [data-line]"), what="the lines")
                kinds, cards = shown(driver)
                assert (kinds, set(cards)) == (["queue"], CARDS["queue"] | own), role
                # no card of a kind the hall has not asked a route the hall has not got
                assert console_errors(driver) == [], role
                driver.save_screenshot(str(tmp_path / f"wall-queue-only-{role}.png"))


@contextlib.contextmanager
def counters(config: Path) -> Iterator[None]:
    """The hall file's counters, simulated on real pymodbus servers (`hallgate sim hall`)."""
    log = config.parent / "sim.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "firmware_sim", "hall", "-c", str(config), "--rate", "12", "--seed", "7"],
            stdout=out,
            stderr=out,
        )
    try:
        yield
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]


def test_a_hall_with_only_counters_shows_only_its_zones(mosquitto: Mosquitto, tmp_path: Path) -> None:
    port = free_port()
    counter = (
        f"  - {{id: pc-door, kind: people_counter, profile: ref-people-counter, zone: front, poll_interval_s: 0.5,"
        f" modbus: {{host: 127.0.0.1, port: {port}, unit: 1}}}}"
    )
    zones = "zones: [{id: front, name: 咨询服务区, capacity: 40}]"
    hall = Hall(tmp_path, mosquitto, counter, extra=zones)
    with counters(hall.config):
        wait_for_port(port)
        with hall.running():

            def api_zones() -> dict[str, int]:
                return {z["zone"]: z["occupancy"] for z in hall.get("/api/v1/occupancy")}

            wait_for(lambda: api_zones()["front"] > 0, what="people counted in")
            with chromium(1920, 1080) as driver:
                for role, own in (("viewer", set()), ("manager", {"alerts-card"})):
                    open_wall(driver, hall, role)
                    kinds, cards = shown(driver)
                    assert (kinds, set(cards)) == (["people_counter"], CARDS["people_counter"] | own), role

                    def page_zones() -> dict[str, int]:
                        cells = driver.execute_script(
                            "return [...document.querySelectorAll('#zones .zone')]"
                            ".map((c) => [c.dataset.zone, c.querySelector('.n').textContent])"
                        )
                        return {zone: int(n) for zone, n in cells}

                    # the figures the API gives (the counter counts on: a few reads until they meet)
                    wait_for(lambda: page_zones() == api_zones(), what="the wall's zones as the API's")
                    assert "全厅" in driver.find_element(By.ID, "hall-total").text
                    assert driver.find_elements(By.CSS_SELECTOR, "#flow svg rect"), "no flow drawn"
                    assert console_errors(driver) == [], role


def rate(hall: Hall, payloads: list[dict[str, Any]]) -> None:
    """The pad rp-1 (window W01) sends ratings (`rated`) and expired prompts (`unrated`)."""
    now = datetime.now(TZ).isoformat(timespec="milliseconds")
    for seq, p in enumerate(payloads, 1):
        paho.mqtt.publish.single(
            f"hall/{SITE}/rating/rp-1/event",
            json.dumps({"seq": seq, "ts": now, "window": "W01", **p}, ensure_ascii=False),
            qos=1,
            hostname="127.0.0.1",
            port=hall.mqtt_port,
        )


def wall_rate(driver: webdriver.Chrome) -> tuple[str, str]:
    return driver.find_element(By.ID, "rating-rate").text, driver.find_element(By.ID, "rating-basis").text


def test_the_wall_rating_rate_is_per_visit_with_a_queue_and_per_prompt_without(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # Without a queue system: one rating and one expired prompt, 评价率 50 % of the prompts.
    (tmp_path / "pads").mkdir()
    pads = Hall(tmp_path / "pads", mosquitto, PAD)
    with pads.running():
        rate(pads, [{"type": "rated", "score": 5, "case_id": "C-1", "item": "社保转移"}, {"type": "unrated"}])
        wait_for(lambda: pads.get("/api/v1/ratings/summary")["total"]["rating_rate"] == 0.5, what="both counted")
        assert pads.get("/api/v1/ratings/summary")["visits"] is None
        with chromium(1920, 1080) as driver:
            open_wall(driver, pads, "viewer")
            assert set(shown(driver)[0]) == {"rating_pad"} and visible_cards(driver) == CARDS["rating_pad"]
            assert wall_rate(driver) == ("50%", "按邀评计")
            assert console_errors(driver) == []
    # With one: three visits served this morning, one of them (C-1) rated; of the prompts, all were.
    (tmp_path / "both").mkdir()
    both = Hall(tmp_path / "both", mosquitto, f"{QUEUE}\n{PAD}")
    with both.running():
        a_morning(both)
        rate(both, [{"type": "rated", "score": 5, "case_id": "C-1", "ticket": "A001"}])

        def summary() -> dict[str, Any]:
            return both.get("/api/v1/ratings/summary")

        wait_for(lambda: (v := summary()["visits"]) and v["total"]["served"] == 3 and v["total"]["rated"] == 1)
        assert summary()["total"]["rating_rate"] == 1.0  # per prompt: not what the wall shows here
        with chromium(1920, 1080) as driver:
            open_wall(driver, both, "viewer")
            assert set(shown(driver)[0]) == {"rating_pad", "queue"}
            assert wall_rate(driver) == ("33%", "按办件计")
            assert console_errors(driver) == []
