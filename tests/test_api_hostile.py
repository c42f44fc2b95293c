"""The API against a hostile or careless client: what it sends (methods a path does not take,
values the state database cannot hold, oversized or odd bodies) gets a 4xx JSON answer that says
what to change, never a 500. A real gateway served by uvicorn (tests/test_api_surface.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.api.app import MAX_BODY_BYTES
from gateway.api.server import MAX_HEAD_BYTES
from gateway.runtime import Gateway
from tests.every_role import (
    ROLES,
    TOKENS,
    every_role,
    fill_path,
    may_call,
    operations,
    raw_request,
    schema_kinds,
    schema_maximum,
)
from tests.servers import Mosquitto
from tests.test_api_surface import AUTH, run


def test_a_method_the_path_does_not_take_says_which_it_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9110: a 405 carries `Allow` (the error handler used to drop the exception's headers)."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for method, path in (("TRACE", "/healthz"), ("DELETE", "/api/v1/devices"), ("OPTIONS", "/metrics")):
            r = await http.request(method, path, headers=AUTH)
            assert r.status_code == 405, (method, path)
            assert r.json()["error"] == "method_not_allowed"
            assert "GET" in r.headers["allow"], (method, path)
        r = await http.get("/api/v1/alerts/1/ack", headers=AUTH)
        assert (r.status_code, r.headers["allow"]) == (405, "POST")

    run(tmp_path, monkeypatch, body)


def test_values_the_database_cannot_hold_are_bad_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """Every integer parameter beyond int64 and every time outside what an int64 of nanoseconds
    holds: 422 naming the parameter (they were 500 OverflowError from SQLite or datetime). The
    hall has a device of each kind, or the kind's routes answer 404 before the check is reached;
    the largest int64 and the first and last whole years pass it."""
    huge = ("9223372036854775808", "99999999999999999999999")
    times = ("0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1500-06-01T00:00")

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        tried: set[tuple[str, str, str]] = set()
        for method, path, op in operations(spec):
            for p in op.get("parameters", []):
                name, kinds = p["name"], schema_kinds(p["schema"])
                values = huge if "integer" in kinds else times if {"date", "date-time"} & kinds else ()
                if name in ("start", "end", "date"):
                    values = times
                for value in values:
                    url, query = fill_path(path, op, name, value)
                    r = await may_call(http, method, url, params=query, json={"note": "n", "reason": "r"})
                    why = (method, path, name, value, r.text)
                    assert r.status_code == 422 and r.json()["error"] == "invalid_request", why
                    detail = r.json()["detail"]
                    # In Chinese, the field named first (`query.limit：…太大`, `start 超出 1678–2261 年`).
                    assert detail.startswith((f"query.{name}：", f"path.{name}：", f"请求内容有误：{name} ")), why
                    guards = ("太大",) if values is huge else ("超出 1678–2261 年",)
                    # A date given a time of day that is not midnight is refused as not a date.
                    guards += ("should have zero time",) if name == "date" and "T23" in value else ()
                    assert any(g in detail for g in guards), why
                    tried.add((method, path, name))
        # The routes of each kind were among them (without that kind's devices they answered 404).
        assert {
            ("GET", "/api/v1/ratings", "start"),
            ("GET", "/api/v1/ratings", "before_id"),
            ("GET", "/api/v1/ratings/summary", "date"),
            ("GET", "/api/v1/attendance/daily", "date"),
            ("GET", "/api/v1/workorders", "before_id"),
            ("GET", "/api/v1/workorders/{order_id}", "order_id"),
            ("POST", "/api/v1/alerts/{alert_id}/ack", "alert_id"),
        } <= tried, sorted(tried)

        # In range, the same parameters pass: the largest int64 pages from there or is not found.
        top = 2**63 - 1
        passed = 0
        for method, path, op in operations(spec):
            for p in op.get("parameters", []):
                if schema_maximum(p["schema"]) != top:
                    continue
                url, query = fill_path(path, op, p["name"], str(top))
                # what each route's body needs (a route's own fields; the others' are ignored)
                every_body = {"note": "n", "reason": "r", "outcome": "upheld", "text": "t", "deadline": "2099-01-01"}
                r = await may_call(http, method, url, params=query, json=every_body)
                if p["in"] == "query":
                    assert (r.status_code, r.json()) == (200, []), (method, path, r.text)
                else:
                    assert r.status_code == 404 and r.json()["error"].startswith("unknown_"), (method, path, r.text)
                    assert str(top) in r.json()["detail"], r.text
                passed += 1
        assert passed >= 8, passed
        # The first and last years are whole, whatever the hall's offset was then (LMT +08:05:43).
        for path in ("/api/v1/audit", "/api/v1/ratings", "/api/v1/ratings/summary", "/api/v1/occupancy/history"):
            for start, end in (("1678-01-01", "1678-01-02"), ("2261-12-31", "2261-12-31T23:59:59-14:00")):
                r = await may_call(http, "GET", path, params={"start": start, "end": end})
                assert r.status_code == 200, (path, start, r.text)
        for path in ("/api/v1/ratings/summary", "/api/v1/attendance/daily"):
            for day in ("1678-01-01", "2261-12-31"):
                r = await may_call(http, "GET", path, params={"date": day})
                assert r.status_code == 200, (path, day, r.text)

    every_role(tmp_path, monkeypatch, body, mosquitto)


def test_a_body_over_the_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone, before a token check, could make the gateway hold a body of any size (200 MB grew
    the demo's memory by ~500 MB, never given back): 413 for a declared or a chunked one."""
    big = b'{"note": "' + b"a" * (MAX_BODY_BYTES + 1) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for headers in ({}, AUTH):
            r = await http.post("/api/v1/alerts/1/ack", content=big, headers=headers)
            assert (r.status_code, r.json()["error"]) == (413, "too_large"), r.text
        r = await http.post("/api/v1/alerts/1/ack", content=chunks(), headers=AUTH)
        assert (r.status_code, r.json()["error"]) == (413, "too_large"), r.text
        r = await http.post("/api/v1/alerts/1/ack", json={"note": "a" * 900}, headers=AUTH)
        assert (r.status_code, r.json()["error"]) == (404, "unknown_alert")
        spec = (await http.get("/openapi.json")).json()
        assert "413" in spec["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"]["responses"]

    run(tmp_path, monkeypatch, body)


def test_a_number_is_not_taken_for_a_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """pydantic reads `0.5` or `1700000000` as seconds since 1970: `audit?start=0.5` answered
    every row, `attendance/daily?date=-2.2e-311` the day of 1970-01-01. ISO 8601 only."""
    dated = [
        ("/api/v1/audit", "start"),
        ("/api/v1/audit", "end"),
        ("/api/v1/occupancy/history", "start"),
        ("/api/v1/attendance/daily", "date"),
        ("/api/v1/ratings/summary", "date"),
        ("/api/v1/ratings/summary", "start"),
        ("/api/v1/ratings", "end"),
    ]

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for path, name in dated:
            for value in ("0.5", "-2.225073858507e-311", "1700000000", "", "tomorrow"):
                r = await may_call(http, "GET", path, params={name: value})
                assert r.status_code == 422 and name in r.json()["detail"], (path, name, value, r.text)
            value = "2026-11-23" if name == "date" else "2026-11-23T09:30"
            # An end alone runs from today's start (ratings): give a start before it.
            r = await may_call(
                http, "GET", path, params={name: value, **({"start": "2026-11-01"} if name == "end" else {})}
            )
            assert r.status_code == 200, (path, name, r.text)

    every_role(tmp_path, monkeypatch, body, mosquitto)


def test_control_characters_in_typed_text_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """A NUL or a newline in a reason, an item or an applicant went into the audit, the outbox's
    lines and the log (`pickup code issued: item a<NUL>b`, a forged log line after a newline):
    the device side has refused NUL all along. Notes keep newlines and tabs."""
    # Each with what it answers past validation: the commands reach their device (offline here:
    # nothing answers for it) with the text as typed in their audit; the rest find no such id.
    offline, no_kiosk = (504, "device_offline"), (403, "forbidden")
    posts = [
        ("/api/v1/lockboxes/lb/slots/1/unlock", {"reason": "x"}, "reason", offline),
        ("/api/v1/lockers/lk/doors/1/deposit", {"item": "x", "applicant": "y"}, "item", offline),
        ("/api/v1/lockers/lk/doors/1/deposit", {"item": "x", "applicant": "y"}, "applicant", offline),
        ("/api/v1/lockers/lk/pickup", {"code": "123456"}, "code", no_kiosk),
        ("/api/v1/alerts/1/ack", {"note": "x"}, "note", (404, "unknown_alert")),
        ("/api/v1/workorders/1/close", {"note": "x"}, "note", (404, "unknown_workorder")),
    ]

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for path, good, name, answer in posts:
            for bad in ("a\x00b", "a\x1b[31mred", "a\x7f", "a\rb"):
                r = await may_call(http, "POST", path, json={**good, name: bad})
                assert r.status_code == 422, (path, name, bad, r.text)
                assert f"body.{name}：第 " in r.json()["detail"] and "是控制字符" in r.json()["detail"], r.text
            one_line = "\n" if name != "note" else "\x0b"
            r = await may_call(http, "POST", path, json={**good, name: f"a{one_line}b"})
            assert r.status_code == 422, (path, name, r.text)
            text = "第一行\n\t第二行" if name == "note" else "证照 A-1"
            key = {"Idempotency-Key": f"{path}-{name}"}
            r = await may_call(http, "POST", path, json={**good, name: text}, headers=key)
            assert (r.status_code, r.json()["error"]) == answer, (path, name, r.text)
            if answer == offline:
                assert text in r.json()["audit"]["reason"], r.text

    every_role(tmp_path, monkeypatch, body, mosquitto)


@pytest.mark.parametrize("devices", [False, True], ids=["no devices", "a device of each kind"])
def test_every_answer_is_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any, devices: bool
) -> None:
    """OpenAPI lists, for each route, every status it answers (README: "listed in OpenAPI for
    every route with the statuses it can answer"): a hall without rating pads or attendance
    machines answers 404 without a path parameter, transitions answer 409, a body that is not
    UTF-8 answers 400. Each route is called as every role, plainly and with a broken body; in a
    hall with a device of each kind, with its ids, so that the routes get as far as the device
    (offline here)."""
    ids = {"device": "lb", "device_id": "rp", "locker": "lk"} if devices else {}

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        undocumented = set()
        for method, path, op in operations(spec):
            documented = set(op["responses"])
            # A kiosk token passes the token check of every route and is refused by all but
            # /me and its pickup route: 403 (this hall has no locker, so no kiosk to call with).
            if "401" in documented and path != "/api/v1/me" and "403" not in documented:
                undocumented.add((method, path, 403, "forbidden (a kiosk token)"))
            url, _ = fill_path(path, op, "", "", ids)
            tries: list[dict[str, Any]] = [{}]
            if method == "POST":
                tries = [{"json": {"note": "n", "reason": "r", "item": "i", "applicant": "a", "code": "1"}}]
                tries.append({"content": b"\xc3\x28\xa0\xa1", "headers": {"Content-Type": "application/json"}})
            for role in (*ROLES, None):
                for kw in tries:
                    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
                    r = await http.request(
                        method,
                        url,
                        headers={**headers, **kw.get("headers", {})},
                        **{k: v for k, v in kw.items() if k != "headers"},
                    )
                    if str(r.status_code) not in documented:
                        undocumented.add((method, path, r.status_code, r.json().get("error")))
        assert not undocumented, "\n".join(map(str, sorted(undocumented)))

    every_role(tmp_path, monkeypatch, body, request.getfixturevalue("mosquitto") if devices else None)


def test_without_a_token_a_route_answers_401_whatever_the_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI parses and validates a body before the dependencies run: a caller without a token
    got 422 "JSON decode error" or the route's field rules (or 400) instead of 401."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        broken = (
            {"content": b"garbage"},
            {"content": b"\xc3\x28"},
            {"json": {"note": 5}},
            {"json": []},
        )
        for path in ("/api/v1/alerts/1/ack", "/api/v1/lockboxes/lb/slots/0/unlock", "/api/v1/lockers/lk/pickup"):
            for kw in broken:
                for headers, error in (
                    ({}, "unauthenticated"),
                    ({"Authorization": "Bearer not-a-token-of-ours"}, "bad_token"),
                ):
                    r = await http.post(path, headers={"Content-Type": "application/json", **headers}, **kw)
                    assert (r.status_code, r.json()["error"]) == (401, error), (path, kw, r.text)
                    assert r.headers["www-authenticate"] == "Bearer"
                r = await may_call(http, "POST", path, **kw)
                assert r.status_code == 422, (path, kw, r.text)  # with a token: what is wrong with it
        r = await http.get("/api/v1/ratings?score=9")
        assert r.status_code == 401, r.text

    every_role(tmp_path, monkeypatch, body)


def test_a_filter_given_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`?zone=consult&zone=windows` answered for windows alone, silently (the last value won)."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for path, name, values in (
            ("/api/v1/devices", "zone", ("consult", "windows")),
            ("/api/v1/alerts", "limit", ("1", "2")),
            ("/api/v1/audit", "start", ("2026-11-01", "2026-11-02")),
        ):
            r = await may_call(http, "GET", path, params=[(name, v) for v in values])
            assert r.status_code == 422, (path, r.text)
            assert r.json()["detail"].startswith(f"请求内容有误：查询参数 {name} 给了 2 次，只能给一次"), r.text
            r = await may_call(http, "GET", path, params={name: values[0]})
            assert r.status_code == 200, (path, r.text)

    every_role(tmp_path, monkeypatch, body)


def test_a_header_the_route_requires_is_required_in_openapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unlock answers 400 without an Idempotency-Key, but OpenAPI said the header was optional
    (a client generated from it would leave it out)."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        op = spec["paths"]["/api/v1/lockboxes/{device}/slots/{slot}/unlock"]["post"]
        [key] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header" and key["required"] is True
        r = await http.post(
            "/api/v1/lockboxes/lb/slots/1/unlock",
            json={"reason": "r"},
            headers={"Authorization": f"Bearer {TOKENS['duty_manager']}"},
        )
        assert (r.status_code, r.json()["error"]) == (400, "idempotency_key_required"), r.text

    every_role(tmp_path, monkeypatch, body)


def test_an_error_never_echoes_kilobytes_of_what_was_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 404 quotes the id it did not find: a 15 KB id comes back as at most a kilobyte of detail."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        r = await http.get(f"/api/v1/devices/{'x' * 15_000}", headers={"Authorization": f"Bearer {TOKENS['staff']}"})
        assert r.status_code == 404, r.text
        assert len(r.json()["detail"]) <= 1000, len(r.text)

    every_role(tmp_path, monkeypatch, body)


def test_a_request_head_over_the_limit_is_refused_with_431(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100 KB header used to be served (h11 counts only a head still incomplete after a read);
    in one write or in many, it is a 431 with the API's JSON error, and a head under the cap passes."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        port = http.base_url.port
        assert port is not None
        big = f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * 100_000}\r\n\r\n".encode()
        for chunk in (None, 4096):
            status, answer = await raw_request(port, big, chunk)
            assert status == 431, (chunk, answer)
            assert set(answer) == {"error", "message", "next", "detail"} and answer["error"] == "headers_too_large"
            assert str(MAX_HEAD_BYTES) in answer["message"] and "请求头" in answer["message"]
        # A head just under the cap is served.
        pad = "a" * (MAX_HEAD_BYTES - 200)
        ok = f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n".encode()
        assert len(ok) < MAX_HEAD_BYTES
        status, answer = await raw_request(port, ok)
        assert (status, answer) == (200, {"status": "ok"})

    run(tmp_path, monkeypatch, body)
