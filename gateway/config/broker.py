"""The MQTT broker the gateway subscribes to (and its TLS), and how ingest spreads over cores."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model


class BrokerTls(Model):
    """MQTT over TLS. The broker's certificate is always verified and its name checked.

    Relative paths are taken from the working directory. Each file is checked at load, so a
    typo is a configuration error rather than a gateway that retries a handshake forever.
    """

    ca_file: Path | None = Field(
        None, description="PEM CA that signed the broker's certificate; default: the system's trust store"
    )
    cert_file: Path | None = Field(None, description="PEM client certificate, for mutual TLS")
    key_file: Path | None = Field(None, description="its unencrypted PEM private key")
    server_name: str | None = Field(
        None,
        description="the name the broker's certificate carries, when it differs from broker.host (e.g. dialled by IP)",
    )

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"文件 {v} 不存在（相对路径从工作目录 {Path.cwd()} 算起）：请给出 PEM 文件的路径")
        return v

    @model_validator(mode="after")
    def _usable(self) -> BrokerTls:
        # The same check the link makes at start: unreadable PEM, a key that is not the
        # certificate's, cert_file without key_file. drivers.tls.TlsOptions(**model_dump()).
        from drivers.tls import TlsOptions, client_context

        client_context(TlsOptions(**self.model_dump()))
        return self


class Broker(Model):
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535, description="default 1883, or 8883 with tls")
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = None  # default: hallgate-{site}
    username: str | None = None
    password_env: str | None = None
    keepalive_s: int = Field(30, ge=5)
    # How many QoS 1 messages the broker may have in flight to us before we acknowledge them
    # (MQTT 5 Receive Maximum); acknowledgements wait for the outbox commit.
    receive_maximum: int = Field(2000, ge=1, le=65535)
    tls: BrokerTls | None = None

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        # The conventional MQTT over TLS port when TLS is on and no port is given.
        if isinstance(data, dict) and data.get("port") is None and data.get("tls") is not None:
            return {**data, "port": 8883}
        return data

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


class Ingest(Model):
    """Ingest across cores: with more than one worker, each is a process of its own and a member
    of one MQTT shared subscription (`$share/hallgate-{site}/...`), with its own client id, session
    and outbox; the gateway keeps the API, the polls and the one view of the hall."""

    workers: int = Field(
        1,
        ge=1,
        le=16,
        description="processes taking the hall's MQTT messages; 1: the gateway itself (about one core at most)",
    )
