"""Fake work-group robots that speak the documented protocols, for the department notices' tests.

- 钉钉 custom robot with 加签 (https://open.dingtalk.com/document/robots/customize-robot-security-settings,
  https://open.dingtalk.com/document/robots/custom-robot-access): POST /robot/send?access_token=...
  &timestamp=<ms>&sign=<urlencoded base64(HmacSHA256(secret, timestamp + "\\n" + secret))>; the
  timestamp within an hour; {"msgtype": "markdown", "markdown": {"title", "text"}}. Answers HTTP
  200 with {"errcode": 0, "errmsg": "ok"}, 310000 for a bad or stale signature, 300001 for an
  unknown access_token, 130101 when told to refuse (send too fast).
- 企业微信 group robot (https://developer.work.weixin.qq.com/document/path/91770): POST
  /cgi-bin/webhook/send?key=...; {"msgtype": "markdown", "markdown": {"content"}} of at most 4096
  bytes. Answers {"errcode": 0, "errmsg": "ok"}, 93000 for an unknown key ("invalid webhook url"),
  40058 for content empty or too long, 45009 when told to refuse (api freq out of limit).

Each server keeps what it took and what it refused, in order; a test waits on them with a deadline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeRobot:
    def __init__(self, *, access_token: str = "", secret: str = "", key: str = "") -> None:
        self.access_token, self.secret, self.key = access_token, secret, key
        self.taken: list[dict[str, Any]] = []  # the bodies it took
        self.refused: list[int] = []  # the errcodes it answered
        self.refuse = False  # answer the rate-limit code to every message
        self.lock = threading.Lock()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                code, msg = robot.answer(url.path, query, body, self.headers.get("Content-Type", ""))
                out = json.dumps({"errcode": code, "errmsg": msg}).encode()
                self.send_response(200)  # both answer their errors with HTTP 200
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dingtalk_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/robot/send?access_token={self.access_token}"

    @property
    def wecom_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={self.key}"

    def answer(self, path: str, q: dict[str, str], body: Any, ctype: str) -> tuple[int, str]:
        with self.lock:
            code, msg = self._check(path, q, body, ctype)
            if code == 0:
                self.taken.append(body)
            else:
                self.refused.append(code)
            return code, msg

    def _check(self, path: str, q: dict[str, str], body: Any, ctype: str) -> tuple[int, str]:
        if path == "/robot/send":
            if q.get("access_token") != self.access_token:
                return 300001, "token is not exist"
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            want = base64.b64encode(
                hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
            ).decode()
            if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > 3600_000 or not hmac.compare_digest(sign, want):
                return 310000, "sign not match"
            md = body.get("markdown") if isinstance(body, dict) and body.get("msgtype") == "markdown" else None
            if "application/json" not in ctype or not isinstance(md, dict) or not md.get("title") or not md.get("text"):
                return 40035, "缺少参数 json"
            return (130101, "send too fast, exceed 20 times per minute") if self.refuse else (0, "ok")
        if path == "/cgi-bin/webhook/send":
            if q.get("key") != self.key:
                return 93000, "invalid webhook url"
            md = body.get("markdown") if isinstance(body, dict) and body.get("msgtype") == "markdown" else None
            content = md.get("content") if isinstance(md, dict) else None
            if not isinstance(content, str) or not content or len(content.encode()) > 4096:
                return 40058, "markdown.content exceed max length 4096 or empty"
            return (45009, "api freq out of limit") if self.refuse else (0, "ok")
        return 404, "not found"

    def texts(self) -> list[str]:
        with self.lock:
            return [b["markdown"].get("text") or b["markdown"].get("content") for b in self.taken]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
