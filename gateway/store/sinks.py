"""Where the outbox drains to: a tiny Output-like interface and its InfluxDB implementations.

A sink writes a list of lines or raises one of the typed errors in errors.py; it never retries
by itself (the drain owns retry, backoff, splitting and dropping).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx

from gateway.redact import basic_credential, redact
from gateway.store.errors import SinkAuth, SinkError, SinkRetry, classify_status

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Error messages a sink raises are already free of its secrets (see gateway.redact)."""

    name: str

    async def write(self, lines: list[str]) -> None:
        """Store the lines, or raise SinkRetry, SinkReject, SinkAuth or SinkTooLarge."""
        ...

    async def close(self) -> None: ...


def _body(lines: list[str]) -> bytes:
    return "\n".join(lines).encode()


def tls_verify(url: str, verify: ssl.SSLContext | bool) -> ssl.SSLContext | bool:
    """What a sink's client verifies with: an http:// sink never speaks TLS (its client posts to
    that one URL and follows no redirect), so it loads no certificate store (httpx loads certifi's
    for every client that verifies: 1.2 MiB of the resident set; issue 19)."""
    return False if verify is True and urllib.parse.urlsplit(url).scheme.lower() == "http" else verify


def _error_text(response: httpx.Response) -> str:
    # InfluxDB 1.x answers {"error": "..."}; 2.x {"code": ..., "message": "..."}.
    try:
        doc = json.loads(response.text)
        if isinstance(doc, dict):
            return str(doc.get("error") or doc.get("message") or response.text)
    except ValueError:
        pass
    return response.text.strip()[:1000] or response.reason_phrase


def split_credentials(url: str) -> tuple[str, dict[str, str], str | None, str | None]:
    """`http://user:pw@host:8086/?u=..&p=..&x=1` -> (`http://host:8086`, {'x': '1'}, user, pw).

    InfluxDB 1.x takes credentials in the URL's user info or as `u`/`p` query parameters. We
    send them as a Basic Authorization header instead, so the URL we post to, which httpx logs
    at INFO and which error messages quote, never carries them.
    """
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    username = params.pop("u", None)
    password = params.pop("p", None)
    if parts.username is not None:
        username = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password) if parts.password is not None else password
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, params, username, password


class InfluxV1Sink:
    """InfluxDB 1.x: POST /write?db=&rp=&precision=ns with httpx.

    The database is created when the server says it does not exist (at the first write, or if it
    was dropped later): CREATE DATABASE is idempotent in 1.x and needs admin rights when
    authentication is on; without them the write keeps failing as SinkRetry with the server's
    "database not found", which says what to fix.
    """

    name = "influxdb-v1"

    def __init__(
        self,
        url: str,
        database: str | None,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout_s: float = 10.0,
        create_database: bool = True,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        # database None: no `db` parameter (VictoriaMetrics' /write, which would make it a label).
        # Credentials given as arguments win over those written into the URL.
        self.url, extra_params, url_user, url_password = split_credentials(url)
        username = username or url_user
        password = password if password is not None else url_password
        self.database = database
        self.retention_policy = retention_policy
        self.create_database = create_database and database is not None
        self.last_date: str | None = None
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._secrets = [password, basic_credential(username, password or "")] if username and password else []
        self._client = httpx.AsyncClient(auth=auth, timeout=timeout_s, verify=tls_verify(self.url, verify))
        self._params = {**extra_params, "precision": "ns"}
        if database is not None:
            self._params["db"] = database
        if retention_policy:
            self._params["rp"] = retention_policy

    def _clean(self, text: str) -> str:
        # Server answers and httpx errors may echo the request; never let a credential through.
        return redact(text, self._secrets)

    async def write(self, lines: list[str]) -> None:
        if not lines:
            return
        body = _body(lines)
        response = await self._post(body)
        self.last_date = response.headers.get("date")  # the server's clock (the district checks ours)
        if response.status_code == 404 and "database not found" in response.text and self.create_database:
            await self._create_database()
            response = await self._post(body)
        if response.status_code >= 300:
            raise classify_status(
                response.status_code, self._clean(_error_text(response)), response.headers.get("Retry-After")
            )

    async def _post(self, body: bytes) -> httpx.Response:
        try:
            return await self._client.post(f"{self.url}/write", params=self._params, content=body)
        except httpx.TimeoutException as e:
            raise SinkRetry(f"{self.url}: timeout ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise SinkRetry(self._clean(f"{self.url}: {type(e).__name__}: {e}")) from e

    async def _create_database(self) -> None:
        query = f'CREATE DATABASE "{(self.database or "").replace(chr(34), "")}"'
        try:
            response = await self._client.post(f"{self.url}/query", data={"q": query})
        except httpx.TransportError as e:
            raise SinkRetry(self._clean(f"{self.url}: {type(e).__name__}: {e}")) from e
        if response.status_code in (401, 403):
            raise SinkAuth(
                f"database {self.database!r} does not exist and these credentials may not create it: "
                f"{self._clean(_error_text(response))}"
            )
        if response.status_code >= 300:
            raise SinkRetry(f"creating database {self.database!r}: HTTP {response.status_code}")
        log.info("created InfluxDB database %r at %s", self.database, self.url)

    async def close(self) -> None:
        await self._client.aclose()


class InfluxV2Sink:
    """InfluxDB 2.x /api/v2/write through influxdb-client's synchronous write API.

    The call runs in one worker thread owned by the sink (the async client would need aiohttp).
    One thread, so writes stay in order and close() can wait for the one in flight.
    """

    name = "influxdb-v2"

    def __init__(self, url: str, org: str, bucket: str, token: str, *, timeout_s: float = 10.0) -> None:
        # Imported here so the v1 path does not pay for importing influxdb_client.
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self._secrets = [token]
        self.org = org
        self.bucket = bucket
        # retries=False: the client must not retry behind the drain's back.
        self._client = InfluxDBClient(url=self.url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._precision = WritePrecision.NS
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="influx-v2-sink")

    async def write(self, lines: list[str]) -> None:
        if not lines:
            return
        body = _body(lines)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write_sync, body)

    def _write_sync(self, body: bytes) -> None:
        # Translate at the library boundary: nothing from influxdb_client or urllib3 leaks out.
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self._write_api.write(self.bucket, self.org, record=body, write_precision=self._precision)
        except ApiException as e:
            headers = e.headers or {}
            message = redact(_v2_message(e.body) or e.reason or "", self._secrets)
            raise classify_status(e.status or 0, message, headers.get("Retry-After")) from e
        except HTTPError as e:
            raise SinkRetry(redact(f"{self.url}: {type(e).__name__}: {e}", self._secrets)) from e
        except OSError as e:
            raise SinkRetry(redact(f"{self.url}: {type(e).__name__}: {e}", self._secrets)) from e

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._executor.shutdown, True)
        self._client.close()


def _v2_message(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if not isinstance(body, str):
        return ""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.strip()[:1000]
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("error") or body)
    return body


__all__ = ["InfluxV1Sink", "InfluxV2Sink", "Sink", "SinkError"]
