"""A report's e-mail through a real SMTP server (aiosmtpd) over STARTTLS and over SSL, its
certificate checked against the configured CA (one signed by another CA is refused, in Chinese),
the login required by the server only once the connection is encrypted."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.config.report_delivery import Email
from gateway.features.reports.deliver import MailFailed, email_sender
from tests.pki import Pki, make_pki
from tests.servers import free_port
from tests.test_report_delivery import PASSWORD, Mailbox

SUBJECT = "【运行情况报告】测试大厅 月报 2026-11"
PAYLOAD = json.dumps(
    {"report": 7, "subject": SUBJECT, "body": "您好：附件为报告。", "name": "report-month-2026-11"}, ensure_ascii=False
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def files(tmp_path: Path) -> Any:
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 test")
    (tmp_path / "report.xlsx").write_bytes(b"PK test")
    return lambda rid, fmt: tmp_path / f"report.{fmt}" if rid == 7 else None


def server(pki: Pki, box: Mailbox, implicit: bool) -> Controller:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(pki.server_cert, pki.server_key)
    auth = {"authenticator": box.auth, "auth_required": True}
    if implicit:  # SMTPS: aiosmtpd does not count its own TLS as TLS for AUTH, the whole session is encrypted
        return Controller(box, hostname="127.0.0.1", port=free_port(), ssl_context=tls, auth_require_tls=False, **auth)
    return Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=tls, require_starttls=True, **auth)


@pytest.fixture(params=["starttls", "ssl"])
def smtp(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[str, Mailbox, int]]:
    box = Mailbox()
    c = server(pki, box, request.param == "ssl")
    c.start()
    yield request.param, box, c.port
    c.stop()


def config(security: str, port: int, ca: Path) -> Email:
    return Email.model_validate(
        {"host": "127.0.0.1", "port": port, "security": security, "ca_file": ca, "user": "reports",
         "password_env": "REPORT_SMTP_PASSWORD", "from": "gw@hall.example", "to": ["office@hall.example"]}
    )  # fmt: skip


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # SMTPS: encrypted throughout
def test_the_mail_goes_encrypted_with_the_login_and_both_files(
    smtp: tuple[str, Mailbox, int], pki: Pki, files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    security, box, port = smtp
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", PASSWORD)
    asyncio.run(email_sender(config(security, port, pki.ca), files)(41, PAYLOAD))
    assert box.logins == [(b"reports", True)] and len(box.messages) == 1
    m = box.messages[0]
    assert m["Subject"] == SUBJECT and m["Message-ID"] == "<hallgate-report-7-41@127.0.0.1>"
    names = {a.get_filename(): a.get_payload(decode=True) for a in m.iter_attachments()}
    assert names == {"report-month-2026-11.pdf": b"%PDF-1.4 test", "report-month-2026-11.xlsx": b"PK test"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_whose_certificate_another_ca_signed_gets_nothing(
    smtp: tuple[str, Mailbox, int], pki: Pki, files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    security, box, port = smtp
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", PASSWORD)
    with pytest.raises(MailFailed, match="无法连接邮件服务器（SSLCertVerificationError"):
        asyncio.run(email_sender(config(security, port, pki.other_ca), files)(42, PAYLOAD))
    assert box.logins == [] and box.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_wrong_password_is_refused_in_chinese(
    smtp: tuple[str, Mailbox, int], pki: Pki, files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    security, box, port = smtp
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", "not-the-password")
    with pytest.raises(MailFailed, match="邮件服务器拒绝登录（535"):
        asyncio.run(email_sender(config(security, port, pki.ca), files)(43, PAYLOAD))
    assert set(box.logins) == {(b"reports", False)} and box.messages == []  # smtplib tries PLAIN, then LOGIN
