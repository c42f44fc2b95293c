"""The two work-group robots a department listens on, as senders for the durable delivery queue
(gateway/alerts/delivery.py `deliver()`): each takes a queued {"title", "text"} and POSTs it in
its robot's documented form, raising unless the robot says it took it (errcode 0).

- 钉钉 custom robot, 加签 (https://open.dingtalk.com/document/robots/customize-robot-security-settings,
  https://open.dingtalk.com/document/robots/custom-robot-access): POST the webhook with
  `&timestamp=<ms>&sign=<urlencoded base64(HmacSHA256(secret, timestamp + "\\n" + secret))>`, the
  timestamp within an hour of the robot's clock; body `{"msgtype": "markdown", "markdown": {"title",
  "text"}}`; answer `{"errcode": 0, "errmsg": "ok"}`, or e.g. 310000 (sign not match, keywords,
  IP), 300001 (token is not exist), 130101 (send too fast: 20 a minute).
- 企业微信 group robot (https://developer.work.weixin.qq.com/document/path/91770): POST
  `.../cgi-bin/webhook/send?key=<key>` with `{"msgtype": "markdown", "markdown": {"content"}}`;
  answer `{"errcode": 0, "errmsg": "ok"}`, or e.g. 93000 (invalid webhook url: the key),
  45009 (api freq out of limit: 20 a minute), 40058 (content too long or empty).

Both allow 20 messages a minute a robot: each sender paces itself below that (`Pace`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from gateway.alerts.delivery import Send
from gateway.config.discipline import DingTalk, Robot, WeCom


class RobotRefused(RuntimeError):
    """The robot answered, and did not take the message (its errcode and errmsg)."""


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """base64(HmacSHA256(secret, timestamp + "\\n" + secret)); url-encoded as a query parameter."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Pace:
    """At most `per_minute` sends in any 60 s: the next waits for the oldest to leave the window."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.sent: deque[float] = deque(maxlen=per_minute)
        self.clock = clock

    def wait_s(self) -> float:
        if len(self.sent) < (self.sent.maxlen or 0):
            return 0.0
        return max(0.0, self.sent[0] + 60.0 - self.clock())

    async def __call__(self) -> None:
        delay = self.wait_s()
        if delay:
            await asyncio.sleep(delay)
        self.sent.append(self.clock())


def _taken(r: httpx.Response, robot: str) -> None:
    try:
        answer: Any = r.json()
    except ValueError:
        answer = None
    if r.status_code != 200 or not isinstance(answer, dict):
        raise RobotRefused(f"{robot} answered HTTP {r.status_code}")
    if answer.get("errcode") != 0:
        raise RobotRefused(f"{robot} errcode {answer.get('errcode')}: {answer.get('errmsg')}")


def dingtalk_sender(client: httpx.AsyncClient, robot: DingTalk, secret: str, pace: Pace) -> Send:
    async def send(delivery_id: int, payload: str) -> None:
        m = json.loads(payload)
        await pace()
        ts = str(round(time.time() * 1000))
        body = {"msgtype": "markdown", "markdown": {"title": m["title"], "text": m["text"]}}
        # Added to the webhook's own access_token (httpx's `params=` would replace its query).
        url = httpx.URL(robot.url).copy_merge_params({"timestamp": ts, "sign": dingtalk_sign(secret, ts)})
        r = await client.post(url, json=body)
        _taken(r, "钉钉")

    return send


def wecom_sender(client: httpx.AsyncClient, robot: WeCom, url: str, pace: Pace) -> Send:
    async def send(delivery_id: int, payload: str) -> None:
        m = json.loads(payload)
        await pace()
        r = await client.post(url, json={"msgtype": "markdown", "markdown": {"content": m["text"]}})
        _taken(r, "企业微信")

    return send


def sender(robot: Robot, secret: str, per_minute: int) -> Callable[[httpx.AsyncClient], Send]:
    """The sender of a department's robot, given the client the runtime opens for it."""
    pace = Pace(per_minute)
    if robot.dingtalk is not None:
        d = robot.dingtalk
        return lambda client: dingtalk_sender(client, d, secret, pace)
    assert robot.wecom is not None
    w = robot.wecom
    return lambda client: wecom_sender(client, w, secret, pace)
