"""The district's view (`hallgate district`, issue 25) against a real `victoria-metrics` and a real
Mosquitto as the district broker, shared by the module: five sites' series written as their
gateways write them (gateway/store/points.py, the kinds' series, the `site` label the district sink
sets), one site district.yaml does not list, alerts and statuses published on the topics the site
bridges carry up. The view runs in a thread with a clock the tests set; every expected figure is
summed here from what was written."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from gateway.district.config import load_district
from gateway.district.serve import running
from tests.district_support import (
    FIGURES,
    LAST_BEFORE_NOW,
    NO_DATA,
    NOW,
    OFFLINE_AFTER_S,
    SITES,
    STRAY,
    TOKEN,
    TZ,
    WALL,
    Clock,
    Written,
    alert,
    day_label,
    expected,
    publish,
    served,
    site_lines,
    write,
)
from tests.page_rules import catalogue_codes, codes_shown, outside_viewport
from tests.servers import Mosquitto, VictoriaMetrics, free_port
from tests.test_screens import chromium, console_errors, wait
from tests.waits import wait_for


@dataclass
class District:
    url: str
    clock: Clock
    written: dict[str, Written]
    vm: VictoriaMetrics

    def get(self, path: str, token: str | None = TOKEN, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    root = tmp_path_factory.mktemp("district-view")
    (root / "vm").mkdir()
    (root / "broker").mkdir()
    vm = VictoriaMetrics(root / "vm", extra_args=["-retentionPeriod=1y"])
    broker = Mosquitto(root / "broker")
    vm.start()
    broker.start()
    rng = random.Random(25)
    written = {s[0]: Written() for s in SITES}
    lines = [line for sid, _, _, _, queue in SITES for line in site_lines(sid, queue, rng, written[sid])]
    lines += site_lines(STRAY, True, rng, Written())
    write(vm, lines)
    # The bridged topics: town-01 with two open alerts (one resolved by a change after the
    # summary, one more opened: published once the view listens), centre's gateway gone (its
    # will), the bridges' states.
    publish(
        broker,
        "hall/town-01/gateway/alerts",
        {
            "type": "summary",
            "active": 2,
            "alerts": [alert(1, "device_offline", "rp-1"), alert(2, "low_battery", "rp-2")],
        },
    )
    publish(broker, "hall/centre/gateway/status", {"state": "offline"})
    # The feeds' retained summaries (gateway/feeds.py): town-01's work orders (3 open, then 2 by a
    # summary after the view listens) and violations, vil-0101's violations; a change is not a count.
    publish(broker, "hall/town-01/gateway/workorders", feed_summary(open=3, overdue=1))
    publish(broker, "hall/town-01/gateway/violations", feed_summary(open=2, confirmed=5, month="2026-12"))
    publish(broker, "hall/vil-0101/gateway/violations", feed_summary(open=1, confirmed=0, month="2026-12"))
    publish(broker, "hall/town-01/bridge/state", b"1")
    publish(broker, "hall/town-02/bridge/state", b"0")
    config = root / "district.yaml"
    sites = "".join(
        f"  - {{id: {sid}, name: {name}, level: {level}" + (f", parent: {parent}" if parent else "") + "}\n"
        for sid, name, level, parent, _ in [*SITES, NO_DATA]
    )
    config.write_text(
        f"name: 某区政务服务管理办公室\noffline_after_s: {OFFLINE_AFTER_S}\nstore: {{url: '{vm.url}'}}\n"
        f"broker: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"api: {{port: {free_port()}, tokens: [{{role: manager, env: DV_TOKEN}}, {{role: viewer, env: DV_WALL}}]}}\n"
        "ranking: {weights: {good_rate: 50, rating_rate: 25, handling_mean: 25, violations: 10}, red_flags: 1}\n"
        f"sites:\n{sites}",
        encoding="utf-8",
    )
    os.environ["DV_TOKEN"], os.environ["DV_WALL"] = TOKEN, WALL
    cfg = load_district(config)
    clock = Clock()
    try:
        with served(cfg, clock) as r:
            d = District(r.url, clock, written, vm)
            # The watcher has heard the retained summary; then the changes after it.
            wait_for(lambda: open_alerts(d) == [2, 1], what="the retained summary heard")
            publish(
                broker,
                "hall/town-01/gateway/alerts",
                {"type": "change", "alert": alert(2, "low_battery", "rp-2", state="resolved")},
                retain=False,
            )
            publish(
                broker,
                "hall/town-01/gateway/alerts",
                {"type": "change", "alert": alert(3, "forced_open", "lb-1", severity="critical")},
                retain=False,
            )
            wait_for(lambda: open_alerts(d) == [3, 1], what="the changes heard")
            change = {"type": "change", "kind": "workorder", "id": 9, "event": "closed", "state": "closed"}
            publish(broker, "hall/town-01/gateway/workorders", change, retain=False)
            publish(broker, "hall/town-01/gateway/workorders", feed_summary(open=2, overdue=1))
            wait_for(lambda: town(d)["workorders"]["open"] == 2, what="the work orders' new summary heard")
            yield d
    finally:
        broker.stop()
        vm.stop()
        del os.environ["DV_TOKEN"], os.environ["DV_WALL"]


def town(d: District) -> dict[str, Any]:
    return next(s for s in d.get("/api/v1/sites").json()["sites"] if s["id"] == "town-01")


def open_alerts(d: District) -> list[int]:
    return [a["id"] for a in town(d)["alerts"]]


def feed_summary(**counts: Any) -> dict[str, Any]:
    return {"type": "summary", **counts, "at": datetime.fromtimestamp(NOW, TZ).isoformat()}


@pytest.fixture
def d(district: District) -> Iterator[District]:
    district.clock.now = NOW
    yield district
    district.clock.now = NOW


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_every_sites_state_from_its_last_data_and_the_bridged_status_and_alerts(d: District) -> None:
    body = d.get("/api/v1/sites").json()
    sites = by_id(body["sites"])
    assert sites.keys() == {s[0] for s in [*SITES, NO_DATA]}
    never = sites["vil-0202"]
    assert (never["state"], never["reason"], never["last_data"]) == ("offline", "no_data", None)
    assert sites["town-01"]["state"] == "online" and sites["town-02"]["state"] == "online"
    assert (sites["vil-0201"]["state"], sites["vil-0201"]["reason"]) == ("offline", "silent")  # 900 s > 300 s
    assert sites["vil-0201"]["silent_s"] == 900
    assert (sites["centre"]["state"], sites["centre"]["reason"]) == ("offline", "said_offline")  # its will
    assert sites["vil-0101"]["silent_s"] == 30
    last = datetime.fromisoformat(sites["town-01"]["last_data"])
    assert last.timestamp() == int(NOW - LAST_BEFORE_NOW["town-01"])  # shown to the second
    assert [a["id"] for a in sites["town-01"]["alerts"]] == [3, 1]  # 2 was resolved; newest first
    assert sites["town-01"]["open_alerts"] == 2 and sites["town-02"]["open_alerts"] == 0
    assert (sites["town-01"]["bridge"], sites["town-02"]["bridge"], sites["vil-0101"]["bridge"]) == ("up", "down", None)
    assert body["counts"] | {"by_level": None} == {
        "sites": 6,
        "online": 3,
        "offline": 3,
        "open_alerts": 2,
        "open_workorders": 2,
        "open_violations": 3,
        "confirmed_violations": 5,
        "by_level": None,
    }
    assert body["counts"]["by_level"]["village"] == {"sites": 3, "online": 1}
    assert body["broker"] == "connected"


def test_each_sites_open_work_orders_and_violations_are_its_retained_summaries(d: District) -> None:
    sites = by_id(d.get("/api/v1/sites").json()["sites"])
    assert {k: sites["town-01"]["workorders"][k] for k in ("open", "overdue")} == {"open": 2, "overdue": 1}
    assert {k: sites["town-01"]["violations"][k] for k in ("open", "confirmed", "month")} == {
        "open": 2,
        "confirmed": 5,
        "month": "2026-12",
    }
    assert sites["vil-0101"]["workorders"] is None  # never heard: not 0
    assert (sites["vil-0101"]["violations"]["open"], sites["centre"]["violations"]) == (1, None)
    one = d.get("/api/v1/sites/town-01", period=day_label()).json()
    assert (one["workorders"]["open"], one["violations"]["confirmed"]) == (2, 5)


def test_a_site_that_stops_sending_turns_offline_after_the_delay(d: District) -> None:
    # town-02's newest point is 200 s old: 100 s more and it is still online, 101 s and it is not.
    d.clock.now = NOW + 100
    assert by_id(d.get("/api/v1/sites").json()["sites"])["town-02"]["state"] == "online"
    d.clock.now = NOW + 101
    sites = by_id(d.get("/api/v1/sites").json()["sites"])
    assert (sites["town-02"]["state"], sites["town-02"]["reason"]) == ("offline", "silent")
    assert sites["town-01"]["state"] == "online"  # 111 s: not yet


def test_a_site_unknown_to_district_yaml_is_reported_apart_and_counted_nowhere(d: District) -> None:
    body = d.get("/api/v1/sites").json()
    assert [u["site"] for u in body["unknown_sites"]] == [STRAY]
    assert STRAY not in by_id(body["sites"])
    figures = d.get("/api/v1/figures", period=day_label()).json()
    assert figures["district"]["tickets"] == sum(w.counts["tickets"] for w in d.written.values())


def test_figures_per_site_and_per_level_equal_the_sums_of_what_the_sites_sent(d: District) -> None:
    body = d.get("/api/v1/figures", period=day_label()).json()
    assert body["period"] == day_label() and body["kind"] == "day"
    keys = [*FIGURES, "good_rate", "rating_rate", "handling_mean_min", "availability"]
    for sid, *_ in SITES:
        got = by_id(body["sites"])[sid]
        assert {k: got[k] for k in keys} == expected([d.written[sid]]), sid
    for level in ("centre", "town", "village"):
        ws = [d.written[s[0]] for s in SITES if s[2] == level]
        assert {k: body["levels"][level][k] for k in keys} == expected(ws), level
    assert by_id(body["sites"])["vil-0201"]["tickets"] is None  # no queue system: not 0
    assert set(by_id(body["sites"])["vil-0202"].values()) == {"vil-0202", "北岭村便民服务站", "village", None}
    assert {k: body["district"][k] for k in keys} == expected(list(d.written.values()))


def test_the_ranking_scales_each_criterion_across_the_sites_with_district_yaml_weights(d: District) -> None:
    body = d.get("/api/v1/ranking", period=day_label()).json()
    assert body["weights"] == {"good_rate": 50, "rating_rate": 25, "handling_mean": 25}
    assert body["left_out"] == ["violations"]  # kept in each hall: not scored as 0 for all
    # The score computed here: min-max scaled across the sites, handling time turned round, a
    # site without a value 0 on it, the weighted mean out of 100.
    values = {sid: expected([d.written[sid]]) for sid, *_ in SITES}
    values[NO_DATA[0]] = dict.fromkeys(values["centre"])  # nothing to score: 0 on every criterion
    crit = {
        "good_rate": ("good_rate", True),
        "rating_rate": ("rating_rate", True),
        "handling_mean": ("handling_mean_min", False),
    }
    score = dict.fromkeys(values, 0.0)
    for c, (key, up) in crit.items():
        present = [v[key] for v in values.values() if v[key] is not None]
        lo, hi = min(present), max(present)
        for sid, v in values.items():
            if v[key] is not None:
                x = 1.0 if hi == lo else (v[key] - lo) / (hi - lo)
                score[sid] += body["weights"][c] * (x if up else 1 - x)
    want = sorted(values, key=lambda s: (-round(score[s], 2), -(values[s]["good_rate"] or 0)))
    rows = body["rows"]
    assert [r["site"] for r in rows] == want
    assert [r["score"] for r in rows] == [round(score[s], 2) for s in want]
    assert [r["red_flag"] for r in rows] == [True] + [False] * (len(rows) - 1)
    assert rows[0]["name"] == next(name for sid, name, *_ in SITES if sid == want[0])


def test_drill_down_to_one_site_and_the_errors_in_chinese(d: District) -> None:
    one = d.get("/api/v1/sites/town-01", period=day_label()).json()
    assert one["state"] == "online" and one["open_alerts"] == 2
    assert one["figures"]["tickets"] == d.written["town-01"].counts["tickets"]
    day = datetime.fromtimestamp(NOW, TZ).date()
    year, week, _ = day.isocalendar()
    quarter_start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    forms = {  # the reports' forms -> (kind, first day)
        f"{year}-W{week:02d}": ("week", day - timedelta(days=day.weekday())),
        day.strftime("%Y-%m"): ("month", day.replace(day=1)),
        f"{day.year}-Q{(day.month - 1) // 3 + 1}": ("quarter", quarter_start),
        f"{day - timedelta(days=2)}..{day}": ("range", day - timedelta(days=2)),
    }
    today = sum(w.counts["tickets"] for w in d.written.values())
    queues = sum(w.queue for w in d.written.values())  # each issued one ticket the day before
    for period, (kind, first) in forms.items():
        body = d.get("/api/v1/figures", period=period).json()
        assert (body["period"], body["kind"]) == (period, kind), body
        assert body["district"]["tickets"] == today + (queues if first < day else 0), period
    for period in ("2026-13", "yesterday", "2026-W60"):
        r = d.get("/api/v1/figures", period=period)
        assert r.status_code == 422 and r.json()["error"] == "bad_period", r.text
        assert "期间" in r.json()["message"] and "2026-W49" in r.json()["next"]
    future = (datetime.fromtimestamp(NOW, TZ) + timedelta(days=40)).strftime("%Y-%m")
    r = d.get("/api/v1/ranking", period=future)
    assert r.status_code == 422 and r.json()["error"] == "future_period"
    r = d.get("/api/v1/sites/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "unknown_site" and "nowhere" in r.json()["message"]
    assert d.get("/api/v1/sites", token=None).json()["error"] == "unauthenticated"
    assert d.get("/api/v1/sites", token="not-a-district-token-000").status_code == 401
    assert d.get("/api/v1/sites", token=WALL).status_code == 200  # every configured role reads
    assert "/api/v1/ranking" in d.get("/openapi.json", token=None).json()["paths"]
    assert d.get("/docs", token=None).status_code == 200


def test_a_store_that_does_not_answer_is_a_503_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "district.yaml"
    config.write_text(
        f"name: 某区\nstore: {{url: 'http://127.0.0.1:{free_port()}', timeout_s: 5}}\n"
        f"api: {{port: {free_port()}, tokens: [{{role: viewer, env: DV_WALL}}]}}\n"
        "sites: [{id: town-01, name: 城关镇, level: town}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DV_WALL", WALL)

    async def ask() -> httpx.Response:
        async with running(load_district(config)) as r, httpx.AsyncClient() as client:
            return await client.get(f"{r.url}/api/v1/sites", headers={"Authorization": f"Bearer {WALL}"})

    r = asyncio.run(ask())
    assert r.status_code == 503 and r.json()["error"] == "district_store_unreachable", r.text
    assert "时序库" in r.json()["message"] and r.json()["next"]


@pytest.mark.parametrize("size", [(1920, 1080), (375, 812)])
def test_the_pages_in_chromium(d: District, size: tuple[int, int]) -> None:
    codes = catalogue_codes()
    with chromium(*size) as driver:
        driver.get(f"{d.url}/")  # no token yet: the sign-in page
        wait(lambda: driver.find_elements(By.ID, "token"), what="the sign-in page")
        driver.get("about:blank")  # else the same page with a #token= is only a fragment change
        driver.get(f"{d.url}/login#token={WALL}")
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "a.site"), what="the overview")
        cards = {c.get_attribute("data-site"): c for c in driver.find_elements(By.CSS_SELECTOR, "a.site")}
        assert cards.keys() == {s[0] for s in [*SITES, NO_DATA]}  # the stray site is no card
        assert cards["vil-0201"].get_attribute("data-state") == "offline" and "离线" in cards["vil-0201"].text
        red = cards["vil-0201"].value_of_css_property("border-left-color")
        green = cards["town-01"].value_of_css_property("border-left-color")
        assert red != green
        assert driver.find_element(By.ID, "count-online").text.split()[0] == "3"
        assert driver.find_element(By.ID, "count-open_alerts").text.split()[0] == "2"
        assert driver.find_element(By.ID, "count-open_workorders").text.split() == ["2", "未办结差评工单"]
        assert driver.find_element(By.ID, "count-open_violations").text.split() == ["3", "待处理违规"]
        assert "未办结差评工单 未收到" in cards["vil-0101"].text and "待处理违规 1" in cards["vil-0101"].text
        assert STRAY in driver.find_element(By.ID, "unknown").find_element(By.XPATH, "following-sibling::div").text
        problems = [("overview", codes_shown(driver, codes), outside_viewport(driver, size[0]))]

        driver.get(f"{d.url}/ranking?period={day_label()}")
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#ranking tr[data-site]"), what="the ranking")
        want = [r["site"] for r in d.get("/api/v1/ranking", period=day_label()).json()["rows"]]
        shown = [r.get_attribute("data-site") for r in driver.find_elements(By.CSS_SELECTOR, "#ranking tr[data-site]")]
        assert shown == want
        problems.append(("ranking", codes_shown(driver, codes), outside_viewport(driver, size[0])))

        driver.get(f"{d.url}/sites/town-01?period={day_label()}")
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "tr.alert"), what="the drill-down")
        assert len(driver.find_elements(By.CSS_SELECTOR, "tr.alert")) == 2
        tickets = driver.find_element(By.CSS_SELECTOR, "#site-figures td[data-key=tickets]").text
        assert tickets == str(d.written["town-01"].counts["tickets"])
        shown = {i: driver.find_element(By.ID, i).text for i in ("open-workorders", "overdue-workorders")}
        assert shown == {"open-workorders": "2", "overdue-workorders": "1"}
        assert driver.find_element(By.ID, "confirmed-violations").text == "5"
        problems.append(("site", codes_shown(driver, codes), outside_viewport(driver, size[0])))

        driver.get(f"{d.url}/?period=2026-13")
        wait(lambda: driver.find_elements(By.ID, "error"), what="the bad period's message")
        assert "期间" in driver.find_element(By.ID, "error").text
        problems.append(("bad period", codes_shown(driver, codes), outside_viewport(driver, size[0])))
        assert [p for p in problems if p[1] or p[2]] == []
        assert [e for e in console_errors(driver) if "favicon" not in e and " 422 " not in e] == []
