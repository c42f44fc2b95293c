"""The people's side of the discipline ledger end to end, over real HTTP against a running gateway
(real Mosquitto): a duty manager records what they saw on a round, with a photo checked by its
content and stored without its EXIF; refused photos and hostile uploads; the 整改通知单 issued
from a confirmed violation, signed by its person only, overdue (an alert) when not signed in time;
the counts of confirmed violations."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gateway.config.load import load_config
from gateway.domain.patrol import PHOTO_MAX_BYTES
from gateway.features.discipline.patrol_api import PHOTO_BODY_MAX
from gateway.features.discipline.rounds import Rounds
from gateway.i18n.catalogue import explain
from gateway.runtime import start_gateway
from tests.every_role import raw_request
from tests.servers import Mosquitto, free_port
from tests.test_commands import ALWAYS, TOKENS
from tests.test_commands_compliance import tokens  # noqa: F401  (the fixture: the tokens in the environment)
from tests.waits import until

OTHER = "patrol-other-staff-token-0123456789"  # S0001's: another person than the notice's
NS = 10**9


def _hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: patrol
working_hours: {ALWAYS}
api:
  port: {free_port()}
  tokens:
    - {{role: staff, env: CMD_TOKEN_STAFF, name: S0002}}
    - {{role: staff, env: PATROL_TOKEN_OTHER, name: S0001}}
    - {{role: duty_manager, env: CMD_TOKEN_DUTY, name: zhao.duty}}
    - {{role: manager, env: CMD_TOKEN_MANAGER, name: li.manager}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
alerts: {{clear_after_s: 0}}  # a notice signed late resolves its alert at the next look
staff:
  - {{id: S0001, name: 王小明, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 医保科, window: W02}}
  - {{id: S0003, name: 张伟, department: 医保科, window: W03}}
devices: []
""")
    return path


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30)

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        token = OTHER if who == "OTHER" else TOKENS[who]
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kw)

    async def record(self, staff: str, kind: str, note: str = "巡查发现", **more: Any) -> dict[str, Any]:
        r = await self.call("DUTY", "POST", "/violations", json={"staff_id": staff, "kind": kind, "note": note, **more})
        assert r.status_code == 201, r.text
        return r.json()

    async def photo(self, vid: int, data: bytes, name: str = "p.jpg", who: str = "DUTY") -> httpx.Response:
        return await self.call(who, "POST", f"/violations/{vid}/photo", files={"photo": (name, data, "image/jpeg")})


def _jpeg(size: tuple[int, int] = (64, 48), exif: bool = True) -> bytes:
    img = Image.new("RGB", size, (200, 40, 40))
    e = Image.Exif()
    e[0x010F] = "SpyCam Maker"  # Make
    e[0x013B] = "Zhang Private"  # Artist
    out = io.BytesIO()
    img.save(out, "JPEG", exif=e.tobytes() if exif else b"")
    return out.getvalue()


def _png() -> bytes:
    info = PngInfo()
    info.add_text("Author", "Zhang Private")
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 10)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (16, 16)).save(out, "GIF")
    return out.getvalue()


def _noisy_jpeg() -> bytes:
    """A JPEG whose scan data is most of the file (noise): cut in half, the decode runs out."""
    out = io.BytesIO()
    Image.effect_noise((256, 256), 80).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def _message(code: str) -> str:
    """The catalogue's Chinese words for `code`, without their specifics."""
    return explain(code)["message"]


@pytest.mark.usefixtures("tokens")
def test_patrol_record_photo_notice_summary(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_TOKEN_OTHER", OTHER)
    asyncio.run(_run(_hall(tmp_path, mosquitto), tmp_path))


async def _run(path: Path, tmp_path: Path) -> None:
    cfg = load_config(path)
    async with start_gateway(cfg) as gw:
        api = Http(cfg.api.port)
        await until(lambda: _up(api), what="the API")

        # -- recorded by a duty manager, in the contract's Chinese kinds ---------------------------
        chat = await api.record("S0002", "串岗聊天", "在 W05 窗口聊天约十分钟", where="W05")
        assert (chat["kind"], chat["state"], chat["department"], chat["name"]) == ("chat", "detected", "医保科", "李红")
        assert chat["evidence"][0]["event"] == "patrol" and chat["evidence"][0]["by"] == "zhao.duty"
        r = await api.call("STAFF", "POST", "/violations", json={"staff_id": "S0002", "kind": "其他", "note": "x"})
        assert r.status_code == 403, r.text
        r = await api.call("DUTY", "POST", "/violations", json={"staff_id": "S9999", "kind": "其他", "note": "x"})
        assert (r.status_code, r.json()["error"]) == (422, "unknown_staff"), r.text
        assert r.json()["message"] == "人员名册中没有这个工号：S9999"
        r = await api.call("DUTY", "POST", "/violations", json={"staff_id": "S0002", "kind": "睡觉", "note": "x"})
        assert (r.status_code, r.json()["error"]) == (422, "unknown_violation_kind"), r.text

        # -- photos: accepted by content, EXIF gone from the stored file ---------------------------
        original = _jpeg()
        assert b"SpyCam Maker" in original and Image.open(io.BytesIO(original)).getexif()
        r = await api.photo(chat["id"], original)
        assert r.status_code == 201, r.text
        meta = r.json()
        assert meta["type"] == "jpeg" and meta["by"] == "zhao.duty"
        stored = (tmp_path / "photos" / f"{meta['digest']}.jpg").read_bytes()
        assert hashlib.sha256(stored).hexdigest() == meta["digest"]
        assert b"SpyCam" not in stored and b"Zhang Private" not in stored and b"Exif" not in stored
        with Image.open(io.BytesIO(stored)) as img:
            assert (img.format, img.size, dict(img.getexif())) == ("JPEG", (64, 48), {})
        got = await api.call("MANAGER", "GET", f"/violations/{chat['id']}/photo")
        assert (got.status_code, got.headers["content-type"], got.content) == (200, "image/jpeg", stored)
        for who in ("STAFF", "OTHER"):  # the photo is for managers only, even the person's own
            assert (await api.call(who, "GET", f"/violations/{chat['id']}/photo")).status_code == 403
        r = await api.photo(chat["id"], _jpeg(exif=False))
        assert (r.status_code, r.json()["error"]) == (409, "photo_exists"), r.text

        phone = await api.record("S0001", "违规使用手机", "窗口内看手机视频")
        r = await api.photo(phone["id"], _png(), name="p.png")
        assert r.status_code == 201 and r.json()["type"] == "png", r.text
        stored = (tmp_path / "photos" / f"{r.json()['digest']}.png").read_bytes()
        assert b"Zhang Private" not in stored and b"Author" not in stored
        assert Image.open(io.BytesIO(stored)).size == (40, 30)

        # -- refused, by content, each in Chinese --------------------------------------------------
        other = await api.record("S0003", "其他", "工牌未佩戴")
        noisy = _noisy_jpeg()
        refusals = [
            (
                "a text file renamed .jpg",
                "说明.jpg",
                "这不是照片，只是改了扩展名".encode() * 10,
                415,
                "photo_not_image",
            ),
            ("2 MB + 1 byte", "big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * (PHOTO_MAX_BYTES - 3), 413, "photo_too_large"),
            ("a GIF", "anim.gif", _gif(), 415, "photo_type"),
            ("a truncated JPEG", "cut.jpg", noisy[: len(noisy) // 2], 415, "photo_not_image"),
        ]
        assert len(refusals[1][2]) == PHOTO_MAX_BYTES + 1
        for what, name, data, status, code in refusals:
            r = await api.photo(other["id"], data, name=name)
            assert (r.status_code, r.json()["error"]) == (status, code), (what, r.text)
            assert r.json()["message"].startswith(_message(code)), (what, r.json()["message"])
        assert "GIF" in (await api.photo(other["id"], _gif())).json()["message"]
        assert (await api.photo(other["id"], noisy)).status_code == 201  # the same photo whole is taken

        # -- hostile uploads: bounded before they are read, in bounded memory -----------------------
        tracemalloc.start()
        head = (
            f"POST /api/v1/violations/{phone['id']}/photo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{TOKENS['DUTY']}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {10**9}\r\n\r\n"
        ).encode()
        status, answer = await raw_request(api.port, head)  # 1 GB declared, nothing sent: answered at once
        assert (status, answer["error"]) == (413, "too_large"), answer

        async def endless() -> Any:  # a chunked upload of a file past any limit
            yield b'--b\r\nContent-Disposition: form-data; name="photo"; filename="x.jpg"\r\n\r\n\xff\xd8\xff'
            chunk = b"\0" * 65536
            for _ in range(PHOTO_BODY_MAX // len(chunk) + 2):
                yield chunk

        r = await api.call("DUTY", "POST", f"/violations/{phone['id']}/photo", content=endless(),
                           headers={"Content-Type": "multipart/form-data; boundary=b"})  # fmt: skip
        assert (r.status_code, r.json()["error"]) == (413, "too_large"), r.text
        many = {f"f{i}": (f"{i}.jpg", b"x", "image/jpeg") for i in range(2000)}
        r = await api.call("DUTY", "POST", f"/violations/{other['id']}/photo", files=many)
        assert (r.status_code, r.json()["error"]) == (400, "photo_form"), r.text
        fields = {f"k{i}": "v" for i in range(2000)}  # many fields beside one good photo
        r = await api.call("DUTY", "POST", f"/violations/{other['id']}/photo", data=fields, files={"photo": _png()})
        assert (r.status_code, r.json()["error"]) == (400, "photo_form"), r.text
        r = await api.call("DUTY", "POST", f"/violations/{other['id']}/photo", data={"photo": "x"})
        assert (r.status_code, r.json()["error"]) == (415, "photo_form"), r.text  # not multipart at all
        huge = _chunked(phone["id"], 20 * 2**20)  # 20 MB offered as one file, chunked
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()  # with the 20 MB request itself
        status, answer = await raw_request(api.port, huge, chunk=65536)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert (status, answer["error"]) == (413, "too_large"), answer
        # The gateway (and this client) held a bounded part of it: the photo's bound and the parser's.
        assert peak - before < 3 * PHOTO_BODY_MAX, peak - before

        # -- 整改通知单: from a confirmed violation, signed by its person only -----------------------
        deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        r = await api.call(
            "DUTY", "POST", f"/violations/{chat['id']}/notice", json={"text": "不得串岗", "deadline": deadline}
        )
        assert (r.status_code, r.json()["error"]) == (409, "notice_state"), r.text  # still detected
        for v in (chat, phone, other):
            r = await api.call("DUTY", "POST", f"/violations/{v['id']}/confirm", json={"reason": "巡查属实"})
            assert r.json()["state"] == "confirmed", r.text
        r = await api.call(
            "DUTY", "POST", f"/violations/{chat['id']}/notice", json={"text": "不得串岗", "deadline": deadline}
        )
        assert r.status_code == 201, r.text
        signed = r.json()
        assert (signed["staff"], signed["state"], signed["issued_by"]) == ("S0002", "open", "zhao.duty")
        r = await api.call("OTHER", "POST", f"/notices/{signed['id']}/ack", json={"note": "收到"})
        assert (r.status_code, r.json()["message"]) == (403, "只能由被通知人本人签收整改通知单"), r.text
        assert (await api.call("DUTY", "POST", f"/notices/{signed['id']}/ack", json={})).status_code == 403
        r = await api.call("STAFF", "POST", f"/notices/{signed['id']}/ack", json={"note": "已知晓，立即整改"})
        assert (r.status_code, r.json()["state"], r.json()["acked_by"]) == (200, "acknowledged", "S0002"), r.text
        r = await api.call("STAFF", "POST", f"/notices/{signed['id']}/ack", json={})
        assert (r.status_code, r.json()["error"]) == (409, "notice_signed"), r.text
        steps = (await api.call("MANAGER", "GET", "/violations", params={"staff": "S0002"})).json()
        assert [s["action"] for s in _steps(gw, chat["id"])] == ["record", "photo", "confirm", "notice", "acknowledge"]
        assert steps and all(v["staff"] == "S0002" for v in steps)

        # A notice nobody signs: overdue (the alert) once its deadline passed, by an injected clock.
        r = await api.call(
            "MANAGER", "POST", f"/violations/{phone['id']}/notice", json={"text": "手机入柜", "deadline": deadline}
        )
        late = r.json()
        assert r.status_code == 201 and late["state"] == "open", r.text
        mine = (await api.call("OTHER", "GET", "/notices")).json()
        assert [n["id"] for n in mine] == [late["id"]]  # S0001 reads their own only
        rounds = gw.view.served(Rounds)
        assert rounds is not None
        assert await _alert(api, f"notice {late['id']}") is None
        rounds.clock = lambda: time.time_ns() + 2 * 3600 * NS  # two hours on: past the hour's deadline
        alert = await until(lambda: _alert(api, f"notice {late['id']}"), what="the overdue notice's alert")
        assert alert["rule"] == "notice_overdue" and "S0001" in alert["summary"]
        assert await _alert(api, f"notice {signed['id']}") is None  # signed in time: never overdue
        states = {n["id"]: n["state"] for n in (await api.call("MANAGER", "GET", "/notices")).json()}
        assert states == {signed["id"]: "acknowledged", late["id"]: "overdue"}
        r = await api.call("OTHER", "POST", f"/notices/{late['id']}/ack", json={"note": "迟签"})
        assert (r.status_code, r.json()["state"]) == (200, "acknowledged"), r.text  # late, but signed
        await until(lambda: _no_alert(api, f"notice {late['id']}"), what="the overdue alert resolved once signed")

        # -- the counts: confirmed only (a dismissed one and a detected one do not count) -----------
        extra = await api.record("S0002", "工作准备不到位", "开窗时未到岗")
        dismissed = await api.record("S0003", "其他", "误登记")
        await api.record("S0001", "其他", "待确认的不计")
        await api.call("DUTY", "POST", f"/violations/{extra['id']}/confirm", json={"reason": "属实"})
        await api.call("DUTY", "POST", f"/violations/{dismissed['id']}/dismiss", json={"reason": "登记错误"})
        mine_counted = {"S0002": 2, "S0001": 1, "S0003": 1}  # chat + unready; phone; other
        for by, want in (
            ("staff", mine_counted),
            ("department", {"医保科": 3, "社保科": 1}),
            ("kind", {"chat": 1, "phone": 1, "other": 1, "unready": 1}),
        ):
            r = await api.call("MANAGER", "GET", "/violations/summary", params={"by": by})
            body = r.json()
            assert r.status_code == 200 and {c["key"]: c["count"] for c in body["rows"]} == want, (by, r.text)
            assert body["total"] == sum(mine_counted.values())
        kinds = {c["key"]: c["label"] for c in body["rows"]}
        assert kinds["chat"] == "串岗聊天"
        assert (await api.call("STAFF", "GET", "/violations/summary")).status_code == 403
        await api.http.aclose()


def _chunked(vid: int, size: int) -> bytes:
    """A raw HTTP request uploading `size` bytes of one file, chunked (no Content-Length)."""
    part = b'--b\r\nContent-Disposition: form-data; name="photo"; filename="x.jpg"\r\n\r\n\xff\xd8\xff'
    body = part + b"\0" * size
    step = 65536
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step]) for i in range(0, len(body), step)
    )
    head = (
        f"POST /api/v1/violations/{vid}/photo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['DUTY']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    return head + chunks + b"0\r\n\r\n"


def _steps(gw: Any, vid: int) -> list[dict[str, Any]]:
    rounds = gw.view.served(Rounds)
    v = rounds.violations.get(vid)
    return v["steps"]


async def _up(api: Http) -> bool:
    try:
        return (await api.call("MANAGER", "GET", "/violations")).status_code == 200
    except httpx.TransportError:
        return False


async def _no_alert(api: Http, key: str) -> bool:
    return await _alert(api, key) is None


async def _alert(api: Http, key: str) -> dict[str, Any] | None:
    r = await api.call("MANAGER", "GET", "/alerts", params={"state": "active"})
    return next((a for a in r.json() if a["rule"] == "notice_overdue" and a["key"] == key), None)
