"""A scheduled report's deliveries, as senders for the durable delivery queue
(gateway/alerts/delivery.py `deliver()`, which retries each with a jittered backoff until taken):

- the hall's work group: the discipline feature's 钉钉 / 企业微信 robot sender
  (gateway/features/discipline/robots.py), paced below the robots' 20 messages a minute;
- e-mail through SMTP (STARTTLS, SSL or neither; a login when a user is given), the report's PDF
  and XLSX attached, its subject and body in Chinese.

A delivery taken is marked sent (report_deliveries.sent_ns) before the queue drops its row: a
gateway stopped in between finds it sent and does not send it again. The one repeat left is a
server that took it just before the gateway died, before the mark; an e-mail's Message-ID (one per
delivery) lets a mail client drop that copy."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from gateway.alerts.delivery import Send
from gateway.config.base import secret
from gateway.config.report_delivery import Email
from gateway.store.repos.report_runs import ReportRuns

ROBOT = "report:robot"
EMAIL = "report:email"
ATTACHED = ("pdf", "xlsx")


def once(inner: Send, runs: ReportRuns, clock: Callable[[], int] = time.time_ns) -> Send:
    """`inner`, unless this delivery was taken already; marked sent when it is."""

    async def send(delivery_id: int, payload: str) -> None:
        if runs.was_sent(delivery_id):
            return
        await inner(delivery_id, payload)
        runs.sent(delivery_id, clock())

    return send


def message(e: Email, m: dict[str, Any], files: Callable[[int, str], Path | None], delivery_id: int) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = m["subject"]
    msg["From"] = e.sender
    msg["To"] = ", ".join(e.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<hallgate-report-{m['report']}-{delivery_id}@{e.host}>"
    msg.set_content(m["body"])
    for fmt in ATTACHED:
        path = files(m["report"], fmt)
        if path is None:
            continue
        kind, _, sub = (mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream").partition("/")
        msg.add_attachment(path.read_bytes(), maintype=kind, subtype=sub, filename=m["name"] + "." + fmt)
    return msg


def smtp_send(e: Email, msg: EmailMessage) -> None:
    """One message through the server (blocking: run on a thread). Raises when it is not taken."""
    tls = ssl.create_default_context(cafile=e.ca_file)  # the server's name and certificate checked
    smtp: smtplib.SMTP
    if e.security == "ssl":
        smtp = smtplib.SMTP_SSL(e.host, e.port, timeout=e.timeout_s, context=tls)
    else:
        smtp = smtplib.SMTP(e.host, e.port, timeout=e.timeout_s)
    with smtp:
        if e.security == "starttls":
            smtp.starttls(context=tls)
        if e.user is not None:
            smtp.login(e.user, secret(e.password_env) or "")
        refused = smtp.send_message(msg)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


class MailFailed(RuntimeError):
    """The mail server did not take the message: why, in Chinese, with its answer."""


def why(err: Exception) -> str:
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return f"邮件服务器拒绝登录（{err.smtp_code} {err.smtp_error!r}）"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"邮件服务器拒收（{err.smtp_code} {err.smtp_error!r}）"
    if isinstance(err, smtplib.SMTPException):
        return f"邮件服务器未接收（{err}）"
    return f"无法连接邮件服务器（{type(err).__name__}: {err}）"


def email_sender(e: Email, files: Callable[[int, str], Path | None]) -> Send:
    async def send(delivery_id: int, payload: str) -> None:
        msg = message(e, json.loads(payload), files, delivery_id)
        try:
            await asyncio.to_thread(smtp_send, e, msg)
        except (OSError, smtplib.SMTPException) as err:  # SMTPException is an OSError; both named
            raise MailFailed(why(err)) from err

    return send
