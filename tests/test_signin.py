"""Sign-in with named accounts, end to end: `hallgate user` makes the account, the real gateway
(real Mosquitto, the simulated lockbox) signs the person in and out over real HTTP, the audit names
the person. Expiry and lockout move the sign-in desk's clock (the one fake), never wait."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import main as hallgate
from gateway.config.load import load_config
from gateway.runtime import Gateway, start_gateway
from gateway.signin import passwords
from tests.servers import Mosquitto
from tests.test_commands import ALWAYS, TOKENS, _hall, _sim
from tests.waits import until

PASSWORD = "correct horse 电池 staple"
H = 3600 * 1_000_000_000
M = 60 * 1_000_000_000


@pytest.fixture
def hall(tmp_path: Path, mosquitto: Mosquitto, tokens: None) -> Path:
    path = _hall(tmp_path, mosquitto, ALWAYS)
    text = path.read_text().replace("api:\n", "api:\n  sessions: {max_failures: 3, max_failures_per_address: 5}\n", 1)
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"CMD_TOKEN_{name}", token)


def user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], hall: Path, *args: str, stdin: str = ""
) -> tuple[int, str]:
    """`hallgate user ARGS -c hall`: its exit code and what it printed (both streams)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = hallgate(["user", args[0], "-c", str(hall), *args[1:]])
    out = capsys.readouterr()
    return code, out.out + out.err


def add(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], hall: Path, name: str, role: str) -> None:
    code, said = user(
        monkeypatch, capsys, hall, "add", name, "--role", role, "--person", "赵丽", "--password-stdin", stdin=PASSWORD
    )
    assert code == 0, said


def cookie_of(r: httpx.Response) -> str:
    (header,) = r.headers.get_list("set-cookie")
    return header.split(";")[0].split("=", 1)[1]


class Clock:
    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


async def _run(hall: Path, body: Any, mosquitto: Mosquitto | None = None) -> None:
    """The gateway of `hall` (and its simulated devices, given the broker) around `body(gw, http)`."""
    cfg = load_config(hall)
    async with contextlib.AsyncExitStack() as stack:
        if mosquitto is not None:
            await stack.enter_async_context(_sim(hall, mosquitto))
        gw = await stack.enter_async_context(start_gateway(cfg))
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", timeout=30)
        )
        await body(gw, http)


def session(token: str) -> dict[str, str]:
    return {"Cookie": f"hallgate_session={token}"}


def test_a_person_signs_in_unlocks_as_themself_and_signs_out(
    hall: Path,
    mosquitto: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    add(monkeypatch, capsys, hall, "Zhao.Li", "duty_manager")
    seen: list[str] = []

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        async def sign_in(password: str, **headers: str) -> httpx.Response:
            r = await http.post("/api/v1/session", json={"username": "zhao.li", "password": password}, headers=headers)
            seen.append(r.text)
            return r

        r = await sign_in("wrong password")
        assert (r.status_code, r.json()["error"]) == (401, "signin_failed"), r.text
        assert r.json()["message"] == "登录名或密码不正确" and "set-cookie" not in r.headers

        # The password typed into the name's box: refused like any unknown name, and not logged.
        r = await http.post("/api/v1/session", json={"username": PASSWORD, "password": "zhao.li"})
        seen.append(r.text)
        assert (r.status_code, r.json()["error"]) == (401, "signin_failed"), r.text

        r = await sign_in(PASSWORD)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in ("username", "person", "role")} == {
            "username": "zhao.li",
            "person": "赵丽",
            "role": "duty_manager",
        }
        attributes = {a.strip().lower() for a in r.headers["set-cookie"].split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes and "secure" not in attributes
        token = cookie_of(r)
        behind_tls = await sign_in(PASSWORD, **{"X-Forwarded-Proto": "https"})
        assert "secure" in behind_tls.headers["set-cookie"].lower()

        me = (await http.get("/api/v1/me", headers=session(token))).json()
        assert (me["actor"], me["person"], me["role"]) == ("zhao.li", "赵丽", "duty_manager")
        assert "DELETE /api/v1/session" in me["may"] and "GET /api/v1/audit" not in me["may"]

        # A command by the session: the audit names the person, not a token's variable.
        await until(lambda: _online(http), what="lockbox online")
        r = await http.post(
            "/api/v1/lockboxes/lb-1/slots/2/unlock",
            json={"reason": "phone needed"},
            headers={**session(token), "Idempotency-Key": "signin-1"},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["actor"], r.json()["role"], r.json()["outcome"]) == ("zhao.li", "duty_manager", "confirmed")
        rows = (await http.get("/api/v1/audit", headers=_token("MANAGER"), params={"actor": "zhao.li"})).json()
        assert [(x["actor"], x["action"], x["part"]) for x in rows] == [("zhao.li", "unlock", "slot 2")]

        # A configured token still works unchanged, and wins over a cookie.
        r = await http.get("/api/v1/me", headers={**_token("STAFF"), **session(token)})
        assert (r.json()["actor"], r.json()["person"]) == ("wang.staff", None)

        # Sign-out ends the session at once; the cookie is cleared; a second sign-out ends nothing.
        r = await http.delete("/api/v1/session", headers=session(token))
        assert (r.status_code, r.json()) == (200, {"ended": True})
        assert 'hallgate_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
        r = await http.get("/api/v1/me", headers=session(token))
        assert (r.status_code, r.json()["error"]) == (401, "session_ended"), r.text
        assert r.json()["message"].startswith("登录已失效")
        r = await http.delete("/api/v1/session", headers=session(token))
        assert r.json() == {"ended": False}

    asyncio.run(_run(hall, body, mosquitto))

    # The password is in no answer and no log line; the database holds its argon2id hash only.
    assert not any(PASSWORD in text for text in seen)
    assert PASSWORD not in caplog.text
    db = hall.parent / "state.sqlite"
    (stored,) = sqlite3.connect(db).execute("SELECT hash FROM accounts WHERE name = 'zhao.li'").fetchone()
    assert stored.startswith("$argon2id$") and passwords.verify(stored, PASSWORD)
    raw = b"".join(p.read_bytes() for p in hall.parent.glob("state.sqlite*"))
    assert PASSWORD.encode() not in raw


def test_sessions_expire_when_idle_and_at_their_limit(
    hall: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, capsys, hall, "zhao.li", "manager")

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        assert gw.view.signin is not None
        clock = gw.view.signin.clock = Clock(1_800_000_000 * 1_000_000_000)

        async def me(token: str) -> httpx.Response:
            return await http.get("/api/v1/me", headers=session(token))

        token = cookie_of(await _sign_in(http, "zhao.li", PASSWORD))
        clock.now += 8 * H - M  # a request just inside the idle limit keeps it going
        assert (await me(token)).status_code == 200
        clock.now += 4 * H - M  # 11 h 58 min after sign-in, 3 h 59 min idle: still on
        assert (await me(token)).status_code == 200
        clock.now += 2 * M  # 12 h after sign-in: over, however busy
        r = await me(token)
        assert (r.status_code, r.json()["error"]) == (401, "session_ended"), r.text
        assert r.json()["message"] == "登录时间已到上限，登录已过期（12 小时）"

        token = cookie_of(await _sign_in(http, "zhao.li", PASSWORD))
        clock.now += 8 * H  # nothing for 8 hours
        r = await me(token)
        assert (r.status_code, r.json()["message"]) == (401, "长时间未操作，登录已过期（8 小时）"), r.text
        assert (await me(token)).json()["message"].startswith("登录已失效")  # ended: the row is gone

    asyncio.run(_run(hall, body))


def test_failed_sign_ins_lock_the_name_and_the_address_until_the_time_said(
    hall: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, capsys, hall, "zhao.li", "manager")

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        assert gw.view.signin is not None
        clock = gw.view.signin.clock = Clock(1_800_000_000 * 1_000_000_000)  # 2027-01-15 16:00 in Shanghai
        for _ in range(2):
            r = await _sign_in(http, "zhao.li", "wrong password")
            assert r.json()["error"] == "signin_failed", r.text
        r = await _sign_in(http, "zhao.li", "wrong password")  # the third (max_failures: 3) locks it
        assert (r.status_code, r.json()["error"], r.headers["retry-after"]) == (429, "signin_locked", "900"), r.text
        assert r.json()["message"] == "登录失败次数过多，已暂时锁定，请于 16:15（约 15 分钟后）再试"
        r = await _sign_in(http, "zhao.li", PASSWORD)  # the right password changes nothing while locked
        assert r.status_code == 429, r.text
        clock.now += 15 * M
        assert (await _sign_in(http, "zhao.li", PASSWORD)).status_code == 200

        # A name nobody has answers as a wrong password does, after a whole hash (no timing tell).
        passwords._nobody.cache_clear()
        r = await _sign_in(http, "nobody.here", "wrong password")
        assert (r.status_code, r.json()["error"]) == (401, "signin_failed")
        assert passwords._nobody.cache_info().currsize == 1
        # The address: 5 failures (max_failures_per_address) within the window, under any names,
        # lock it for every name (the first three are 15 minutes old: out of the window).
        for i in range(3):
            assert (await _sign_in(http, f"guess{i}", "wrong password")).status_code == 401
        r = await _sign_in(http, "guess3", "wrong password")  # the fifth
        assert (r.status_code, r.json()["error"]) == (429, "signin_locked"), r.text
        r = await _sign_in(http, "zhao.li", PASSWORD)
        assert (r.status_code, r.json()["error"]) == (429, "signin_locked"), r.text

    asyncio.run(_run(hall, body))


def test_a_disabled_account_is_refused_and_its_sessions_end_at_once(
    hall: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(monkeypatch, capsys, hall, "zhao.li", "staff")

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        token = cookie_of(await _sign_in(http, "zhao.li", PASSWORD))
        assert (await http.get("/api/v1/me", headers=session(token))).status_code == 200
        # The command beside the running gateway (another connection to its state database).
        code, said = user(monkeypatch, capsys, hall, "disable", "zhao.li")
        assert code == 0 and "已停用账号 zhao.li" in said, said
        r = await http.get("/api/v1/me", headers=session(token))
        assert (r.status_code, r.json()["error"]) == (401, "session_ended"), r.text
        r = await _sign_in(http, "zhao.li", PASSWORD)
        assert (r.status_code, r.json()["error"]) == (403, "account_disabled"), r.text
        assert r.json()["message"] == "账号 zhao.li 已停用"
        code, said = user(monkeypatch, capsys, hall, "list")
        assert "zhao.li\t赵丽\t窗口工作人员\t已停用\t0" in said, said

        assert user(monkeypatch, capsys, hall, "enable", "zhao.li")[0] == 0
        token = cookie_of(await _sign_in(http, "zhao.li", PASSWORD))
        # A new password ends the sessions too; the old password no longer signs in.
        new = "another long passphrase"
        code, said = user(monkeypatch, capsys, hall, "passwd", "zhao.li", "--password-stdin", stdin=new)
        assert code == 0, said
        assert (await http.get("/api/v1/me", headers=session(token))).status_code == 401
        assert (await _sign_in(http, "zhao.li", PASSWORD)).status_code == 401
        assert (await _sign_in(http, "zhao.li", new)).status_code == 200

    asyncio.run(_run(hall, body))


def test_the_user_command_refuses_in_chinese(
    hall: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = user(monkeypatch, capsys, hall, "list")
    assert code == 0 and "还没有账号" in said and "hallgate user add" in said
    add(monkeypatch, capsys, hall, "zhao.li", "staff")
    code, said = user(
        monkeypatch, capsys, hall, "add", "zhao.li", "--role", "staff", "--password-stdin", stdin=PASSWORD
    )
    assert code == 1 and "账号 zhao.li 已存在" in said
    code, said = user(monkeypatch, capsys, hall, "add", "li", "--role", "staff", "--password-stdin", stdin="short")
    assert code == 1 and "密码至少 10 个字符" in said
    code, said = user(monkeypatch, capsys, hall, "add", "李 四", "--role", "staff", "--password-stdin", stdin=PASSWORD)
    assert code == 1 and "登录名应为" in said
    code, said = user(monkeypatch, capsys, hall, "disable", "nobody")
    assert code == 1 and "没有账号 nobody" in said
    assert PASSWORD not in said


async def _sign_in(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/session", json={"username": name, "password": password})


def _token(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


async def _online(http: httpx.AsyncClient) -> bool:
    r = await http.get("/api/v1/devices", headers=_token("MANAGER"))
    return all(d["online"] for d in r.json())
