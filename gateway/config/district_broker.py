"""`district.broker`: the site Mosquitto's bridge to the district broker (`hallgate broker-config`).

The gateway itself never connects to the district broker: its site's Mosquitto carries chosen
topics up over one bridge. This is a sub-model of the `district` section so that the time-series
forwarding (`district: {url, api, ...}`) sits beside it in the same section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model

# What may go up, by name (the topics are in gateway/broker_bridge.py, UP_TOPICS).
UP_NAMES = ("alerts", "status", "devices", "workorders", "violations")


class DistrictBrokerTls(Model):
    """TLS to the district broker, as the site Mosquitto reads it (paths on the site's box)."""

    ca_file: Path = Field(description="PEM CA that signed the district broker's certificate (bridge_cafile)")
    cert_file: Path | None = Field(None, description="this site's PEM client certificate (bridge_certfile)")
    key_file: Path | None = Field(None, description="its unencrypted PEM private key (bridge_keyfile)")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"文件 {v} 不存在：请给出本机上 PEM 文件的路径")
        return v

    @model_validator(mode="after")
    def _pair(self) -> DistrictBrokerTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file 与 key_file 须同时给出（双向 TLS）或都不给")
        return self


class DistrictBroker(Model):
    host: str = Field(min_length=1, description="the district broker's name or address")
    port: int = Field(8883, ge=1, le=65535, description="default 8883 with tls, 1883 without")
    tls: DistrictBrokerTls | None = None
    username: str | None = Field(None, min_length=1, description="this site's user there; default: the site id")
    password_env: str | None = Field(None, description="variable holding its password (read by broker-config)")
    password_file: Path | None = Field(None, description="file holding its password (read by broker-config)")
    client_id: str | None = Field(None, min_length=1, description="default: hallgate-bridge-{site}")
    up: list[str] = Field(list(UP_NAMES), description=f"what goes up: {', '.join(UP_NAMES)} or topic filters")
    max_queued_messages: int = Field(
        100_000, ge=1, description="messages the site broker keeps per client (the bridge too) while a link is down"
    )
    keepalive_s: int = Field(60, ge=5)

    @model_validator(mode="before")
    @classmethod
    def _plain_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("port") is None and data.get("tls") is None:
            return {**data, "port": 1883}
        return data

    @model_validator(mode="after")
    def _one_password(self) -> DistrictBroker:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("password_env 与 password_file 只填一个：本站在区级代理的密码")
        return self

    @field_validator("up")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for item in v:
            if item not in UP_NAMES and not item.startswith("hall/"):
                raise ValueError(f"{item!r} 既不是 {'、'.join(UP_NAMES)} 之一，也不是 hall/{{site}}/ 下的主题过滤器")
        if len(set(v)) != len(v):
            raise ValueError("有条目重复：每项只写一次")
        return v
