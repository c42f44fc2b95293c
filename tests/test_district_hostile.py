"""The district's view from outside (`hallgate district`): its sign-in, its read-only API's
answers, and hostile sites on the district broker. A real Mosquitto and a real (empty)
victoria-metrics, the view served over HTTP in a thread, shared by the module; the sign-in's clock
is the test's, so a lockout ends by moving it."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import paho.mqtt.publish
import pytest

from gateway.district.config import load_district
from gateway.district.guard import LIMIT, LOCKOUT_S, Guard
from gateway.district.serve import Running
from gateway.district.service import MAX_STRANGERS
from gateway.district.state import MAX_ALERTS
from gateway.district.watcher import MAX_PAYLOAD
from tests.district_support import served, write
from tests.servers import Mosquitto, VictoriaMetrics, free_port
from tests.waits import wait_for

TOKEN = "district-hostile-token-0123456789"
View = tuple[Running, Mosquitto, VictoriaMetrics]
XSS = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "<b onmouseover=alert(2)>"]


class Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.ns


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Mosquitto, VictoriaMetrics]]:
    root = tmp_path_factory.mktemp("district-hostile")
    (root / "vm").mkdir()
    (root / "broker").mkdir()
    vm, broker = VictoriaMetrics(root / "vm"), Mosquitto(root / "broker")
    vm.start()
    broker.start()
    config = root / "district.yaml"
    config.write_text(
        # district.yaml's own texts are drawn escaped too: the district's and a site's names.
        f"name: '区<script>alert(0)</script>'\nstore: {{url: '{vm.url}'}}\n"
        f"broker: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"api: {{port: {free_port()}, tokens: [{{role: viewer, env: DH_TOKEN}}]}}\n"
        "sites:\n  - {id: town-01, name: '镇<img src=x onerror=alert(3)>', level: town}\n"
        "  - {id: town-02, name: 新桥镇, level: town}\n  - {id: centre, name: 中心, level: centre}\n",
        encoding="utf-8",
    )
    os.environ["DH_TOKEN"] = TOKEN
    try:
        with served(load_district(config)) as r:
            assert r.district.watcher is not None
            wait_for(r.district.watcher.connected.is_set, what="the view on the broker")
            yield r, broker, vm
    finally:
        broker.stop()
        vm.stop()
        del os.environ["DH_TOKEN"]


@pytest.fixture
def guard(view: View) -> Iterator[Clock]:
    """A fresh sign-in guard on the test's clock: no test's wrong tokens lock out another's."""
    r = view[0]
    clock = Clock()
    r.app.state.guard = Guard(r.app.state.tokens, clock)
    yield clock
    r.app.state.guard = Guard(r.app.state.tokens)


def sign_in(url: str, token: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/login", data={"token": token}, headers=headers, follow_redirects=False, timeout=10)


def test_sign_in_keeps_the_token_in_an_httponly_strict_cookie_never_in_a_script(view: View, guard: Clock) -> None:
    r = view[0]
    page = httpx.get(f"{r.url}/login", timeout=10).text
    assert 'method="post"' in page and "document.cookie" not in page
    ok = sign_in(r.url, TOKEN)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    tls = sign_in(r.url, TOKEN, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"].lower()
    assert "secure" in tls.split("; ")
    stale = httpx.get(f"{r.url}/", cookies={"hallgate_district": "a-token-no-longer-listed-0123"}, timeout=10)
    assert stale.status_code == 303 and stale.headers["location"] == "/login?bad=1"
    assert 'hallgate_district=""' in stale.headers["set-cookie"]  # cleared: it is not tried again
    bad = sign_in(r.url, "not-the-token-at-all-0123")
    assert bad.status_code == 401 and 'id="login-bad"' in bad.text and "set-cookie" not in bad.headers


def test_wrong_tokens_lock_the_address_out_the_right_one_too_until_the_lockout_ends(view: View, guard: Clock) -> None:
    r = view[0]
    answers = [sign_in(r.url, f"guess-{i:04d}-0123456789abcdef").status_code for i in range(LIMIT)]
    assert answers == [401] * (LIMIT - 1) + [429]
    assert sign_in(r.url, TOKEN).status_code == 429  # else the lockout would still tell right from wrong
    api = httpx.get(f"{r.url}/api/v1/sites", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert api.status_code == 429 and api.json()["error"] == "token_locked" and "锁定" in api.json()["message"]
    assert int(api.headers["retry-after"]) >= LOCKOUT_S
    guard.ns += LOCKOUT_S * 10**9
    assert sign_in(r.url, TOKEN).status_code == 303


def test_the_api_refuses_writes_unknown_paths_bad_periods_and_huge_heads_in_chinese(view: View, guard: Clock) -> None:
    r = view[0]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        w = httpx.request(method, f"{r.url}/api/v1/sites", headers=auth, timeout=10)
        assert w.status_code == 405 and w.json()["error"] == "method_not_allowed" and "GET" in w.headers["allow"]
        assert "不支持" in w.json()["message"]
    nope = httpx.get(f"{r.url}/api/v1/nope", headers=auth, timeout=10)
    assert nope.status_code == 404 and "没有这个地址" in nope.json()["message"]
    huge = httpx.post(f"{r.url}/login", content=b"token=" + b"a" * 1_000_000, timeout=10)
    assert huge.status_code == 413 and huge.json()["error"] == "too_large"
    bad = httpx.get(f"{r.url}/api/v1/figures", params={"period": "2026-13"}, headers=auth, timeout=10)
    assert bad.status_code == 422 and "期间" in bad.json()["message"]
    with socket.create_connection(("127.0.0.1", int(r.url.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 431")


def test_hostile_sites_on_the_broker_change_nothing_of_the_others_and_stay_bounded(view: View, guard: Clock) -> None:
    r, broker, _ = view
    watcher = r.district.watcher
    assert watcher is not None

    def alert(i: int, **over: Any) -> dict[str, Any]:
        return {
            "id": i,
            "rule": "device_offline",
            "severity": "warning",
            "device": f"rp-{i}",
            "state": "open",
            "opened_ns": 1_700_000_000_000_000_000 + i,
            "summary": "过期",
        } | over

    evil = [
        alert(1, rule=XSS[0], severity=XSS[1], device=XSS[2], summary="x" * 10_000),
        alert(2, opened_ns="soon"),
        "not an alert",
    ]
    many = [alert(i) for i in range(5000)]
    msgs = [
        ("hall/town-01/gateway/alerts", json.dumps({"type": "summary", "active": 2, "alerts": evil})),
        ("hall/town-02/gateway/alerts", json.dumps({"type": "summary", "active": 5000, "alerts": many})),
        ("hall/town-02/gateway/status", json.dumps({"state": "offline", "site": "town-01"})),  # another site's
        ("hall/evil-99/gateway/status", json.dumps({"state": "online"})),  # not in district.yaml
        ("hall/centre/gateway/alerts", b"\xff not json"),
        ("hall/centre/gateway/alerts", json.dumps([1, 2, 3])),
        ("hall/centre/gateway/status", b"{" * (MAX_PAYLOAD + 1)),
        ("hall/centre/gateway/status", json.dumps({"state": "online"})),  # last: all before it were heard
    ]
    paho.mqtt.publish.multiple(
        [{"topic": t, "payload": p, "qos": 1, "retain": True} for t, p in msgs], hostname=broker.host, port=broker.port
    )
    wait_for(lambda: watcher.snapshot().get("centre") and watcher.snapshot()["centre"].gateway, what="the last one")
    heard = watcher.snapshot()
    assert set(heard) == {"town-01", "town-02", "centre"}  # the stranger kept nowhere
    assert heard["town-02"].gateway is None  # a payload naming town-01 on town-02's topic refused
    assert len(heard["town-02"].alerts) == MAX_ALERTS and heard["town-02"].open_alerts == 5000
    assert heard["centre"].alerts == {} and heard["centre"].gateway == "online"
    assert list(heard["town-01"].alerts) == [1]  # the unreadable ones set aside, not the view
    assert all(len(a["summary"] or "") <= 200 for h in heard.values() for a in h.alerts.values())

    headers = {"Authorization": f"Bearer {TOKEN}"}
    sites = {s["id"]: s for s in httpx.get(f"{r.url}/api/v1/sites", headers=headers, timeout=10).json()["sites"]}
    assert sites["town-02"]["open_alerts"] == 5000 and len(sites["town-02"]["alerts"]) == MAX_ALERTS
    cookie = {"hallgate_district": TOKEN}
    for path in ("/", "/sites/town-01", "/ranking"):
        page = httpx.get(f"{r.url}{path}", cookies=cookie, timeout=30)
        assert page.status_code == 200, (path, page.text[:300])
        for raw in [*XSS, "<script>alert(0)", "<img src=x onerror=alert(3)>"]:
            assert raw not in page.text, (path, raw)
        # and were one missed, no script would run: the data pages allow none
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "script-src" not in page.headers["content-security-policy"]
    site = httpx.get(f"{r.url}/sites/town-01", cookies=cookie, timeout=30).text
    assert "&lt;script&gt;" in site and "&quot;&gt;&lt;img" in site  # shown, as text


def test_a_store_full_of_made_up_site_labels_names_only_the_first_hundred(view: View, guard: Clock) -> None:
    r, _, vm = view
    at_ns = (time.time_ns() // 1_000_000 - 120_000) * 1_000_000  # before VictoriaMetrics' latency offset
    write(vm, [f"device_status,site=made-up-{i:03d},device=x online=1 {at_ns}" for i in range(MAX_STRANGERS + 50)])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = httpx.get(f"{r.url}/api/v1/sites", headers=headers, timeout=30).json()
    assert body["unknown_sites_total"] == MAX_STRANGERS + 50 and len(body["unknown_sites"]) == MAX_STRANGERS
    assert body["counts"]["sites"] == 3  # counted nowhere
    page = httpx.get(f"{r.url}/", cookies={"hallgate_district": TOKEN}, timeout=30).text
    assert page.count("made-up-") == MAX_STRANGERS
