"""The wall screen (大厅总览) of a 500-device hall: time from a cold load to its first data drawn.

A hall of 500 MQTT devices (300 rating pads, each its window and post; 120 lockboxes; 80
attendance machines), every one online (a retained status each) on a real Mosquitto, and 1,500
ratings of today (about 1 % 差评: alerts and work orders), so the wall has 300 windows to list;
the gateway as a child process (`hallgate run`, no InfluxDB). Per run, a fresh headless Chromium
(a new profile: nothing cached) loads `/` with a manager token; the page sets the Performance API
mark `hallgate-rendered` once every card has drawn its first data (zones from the live stream,
today's flow, ratings, posts, alerts), and its `startTime` (ms since the navigation started) is
the figure. Baseline, same run and same kind of fresh browser: the cold load of `/healthz` (a tiny
JSON answer), its `loadEventEnd`.
Target (issue 12): under 1 s. Also the size of what the pages load (`dashboards/web`): the
pages' own HTML, JavaScript and CSS, and with the vendored QR library; target under 300 KB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from bench.common import Options, Row, median
from gateway.kinds.registry import KINDS
from gateway.paths import DASHBOARD_DIR
from tests.servers import Mosquitto, free_port

PADS, LOCKBOXES, CLOCKS = 300, 120, 80
DEVICES = PADS + LOCKBOXES + CLOCKS
RATINGS = 1500
TOKEN = "bench-screens-manager-token"
SITE = "bench-screens"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MIN_LOADS = 5


def _config(folder: Path, broker: Mosquitto, api_port: int) -> Path:
    pads = [f"  - {{id: rp-{i:03d}, kind: rating_pad, profile: ref-rating-pad, window: W{i:03d}}}" for i in range(PADS)]
    boxes = [f"  - {{id: lb-{i:03d}, kind: lockbox, profile: ref-lockbox, slots: 24}}" for i in range(LOCKBOXES)]
    clocks = [f"  - {{id: att-{i:03d}, kind: attendance, profile: ref-attendance}}" for i in range(CLOCKS)]
    posts = [f"  - {{window: W{i:03d}, a: S{i:04d}}}" for i in range(PADS)]
    path = folder / "hall.yaml"
    path.write_text(
        f"""site: {SITE}
name: 基准测试大厅 (500 devices)
timezone: Asia/Shanghai
zones:
  - {{id: consult, name: 咨询服务区, capacity: 200}}
  - {{id: windows, name: 窗口办理区, capacity: 600}}
  - {{id: self, name: 自助服务区, capacity: 100}}
api: {{port: {api_port}, tokens: [{{role: manager, env: BENCH_TOKEN}}]}}
broker: {{host: 127.0.0.1, port: {broker.port}, protocol: 5}}
store: {{path: {folder}/outbox.sqlite}}
influx: {{api: none}}
posts:
{chr(10).join(posts)}
devices:
{chr(10).join(pads + boxes + clocks)}
""",
        encoding="utf-8",
    )
    return path


def _publish_all(broker: Mosquitto, messages: list[tuple[str, str, bool]]) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-screens")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        for info in [c.publish(topic, body, qos=1, retain=retain) for topic, body, retain in messages]:
            info.wait_for_publish(30)
    finally:
        c.disconnect()
        c.loop_stop()


def _statuses() -> list[tuple[str, str, bool]]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    ids = (
        [("rating", f"rp-{i:03d}") for i in range(PADS)]
        + [("lockbox", f"lb-{i:03d}") for i in range(LOCKBOXES)]
        + [("attendance", f"att-{i:03d}") for i in range(CLOCKS)]
    )
    body = json.dumps({"state": "online", "ts": ts})
    return [(f"hall/{SITE}/{kind}/{dev}/status", body, True) for kind, dev in ids]


def _ratings() -> list[tuple[str, str, bool]]:
    out = []
    for n in range(RATINGS):
        pad = n % PADS
        score = 1 if n % 100 == 0 else 4 if n % 10 == 0 else 5
        body = {
            "seq": n // PADS + 1,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{n % 1000:03d}+00:00",
            "type": "rated",
            "case_id": f"320111-2026-{n:07d}",
            "window": f"W{pad:03d}",
            "staff_id": f"S{pad:04d}",
            "ticket": f"A{n % 1000:03d}",
            "item": "营业执照设立登记",
            "score": score,
            "reasons": ["slow"] if score <= 2 else [],
        }
        out.append((f"hall/{SITE}/rating/rp-{pad:03d}/event", json.dumps(body, ensure_ascii=False), False))
    return out


def _browser() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1920,1080")
    opts.add_argument("--hide-scrollbars")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _wait(driver: webdriver.Chrome, script: str, timeout: float = 20) -> float:
    deadline = time.monotonic() + timeout
    while (value := driver.execute_script(script)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"page not ready: {script}")
        time.sleep(0.02)
    return float(value)


def cold_wall(base: str) -> float:
    """ms from navigation start to every card of the wall drawn, in a browser with nothing cached."""
    driver = _browser()
    try:
        driver.get(f"{base}/#token={TOKEN}")
        ms = _wait(driver, "return performance.getEntriesByName('hallgate-rendered')[0]?.startTime ?? null")
        if shot := os.environ.get("BENCH_SCREENS_SHOT"):  # a look at the wall of this hall: a PNG path
            driver.save_screenshot(shot)
        return ms
    finally:
        driver.quit()


def cold_static(base: str) -> float:
    driver = _browser()
    try:
        driver.get(f"{base}/healthz")
        script = "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd || null"
        return _wait(driver, script)
    finally:
        driver.quit()


def page_bytes() -> tuple[int, int]:
    """(the pages' own HTML, JS and CSS, with the kinds' fragments of them; the same with the vendored
    libraries) in bytes."""
    own = sum(p.stat().st_size for p in DASHBOARD_DIR.glob("*") if p.suffix in (".html", ".js", ".css"))
    own += sum(p.stat().st_size for k in KINDS.values() for f in k.pages.values() for p in (f.script, f.style) if p)
    vendored = sum(p.stat().st_size for p in (DASHBOARD_DIR / "vendor").glob("*.js"))
    return own, own + vendored


def one_session(folder: Path, loads: int) -> tuple[list[float], list[float]]:
    (folder / "mosquitto").mkdir()
    broker = Mosquitto(folder / "mosquitto")
    broker.start()
    proc = None
    try:
        _publish_all(broker, _statuses())
        api_port = free_port()
        config = _config(folder, broker, api_port)
        log = (folder / "gateway.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BENCH_TOKEN": TOKEN},
        )
        base = f"http://127.0.0.1:{api_port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http:

            def ready() -> bool:
                try:
                    devices = http.get("/api/v1/devices").json()
                    return http.get("/readyz").status_code == 200 and all(d["online"] for d in devices)
                except httpx.HTTPError:
                    return False

            def rated() -> int:
                return http.get("/api/v1/ratings/summary").json()["total"]["rated"]

            deadline = time.monotonic() + 60
            while not ready():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"gateway not ready: {(folder / 'gateway.log').read_text()[-2000:]}")
                time.sleep(0.2)
            _publish_all(broker, _ratings())
            while rated() < RATINGS:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {rated()} of {RATINGS} ratings reached the gateway")
                time.sleep(0.2)
            windows = len(http.get("/api/v1/ratings/summary?by=window").json()["groups"])
            # The 差评s' alerts open on the alert lifecycle's next pass (every second).
            alerts = 0
            for _ in range(50):
                alerts = len(http.get("/api/v1/alerts?state=active").json())
                if alerts:
                    break
                time.sleep(0.1)
            print(f"  hall: {DEVICES} devices online, {windows} windows rated, {alerts} open alerts", file=sys.stderr)
        walls, statics = [], []
        for i in range(loads):  # interleaved, so both see the same machine
            statics.append(cold_static(base))
            walls.append(cold_wall(base))
            print(
                f"  load {i}: wall rendered {walls[-1]:.0f} ms, /healthz loaded {statics[-1]:.0f} ms", file=sys.stderr
            )
        return walls, statics
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        broker.stop()


def run(opts: Options) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-screens-") as tmp:
        walls, statics = one_session(Path(tmp), max(MIN_LOADS, opts.runs))
    own, total = page_bytes()
    return [
        Row(
            "screens",
            f"wall screen, {DEVICES} devices: cold load to first data drawn (headless Chromium)",
            "ms",
            median(walls),
            "cold load of /healthz",
            median(statics),
            "< 1000 ms",
            walls,
            statics,
        ),
        Row("screens", "the pages' own HTML + JS + CSS", "KB", own / 1000, "", None, "", [own / 1000]),
        Row(
            "screens",
            "everything the pages load (with vendored libraries)",
            "KB",
            total / 1000,
            "",
            None,
            "< 300 KB",
            [total / 1000],
        ),
    ]
