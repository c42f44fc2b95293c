"""Where the gateway keeps what it receives: the outbox and state database, and InfluxDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model, parse_size


class Store(Model):
    path: Path = Path("var/outbox.sqlite")
    # The state database (health history, zone state, quarantine, ...); default: state.sqlite
    # beside the outbox.
    state_path: Path | None = None
    max_bytes: int = 256 * 1024**2
    batch_size: int = Field(5000, ge=1)
    flush_interval_s: float = Field(1.0, gt=0)

    @property
    def state_file(self) -> Path:
        return self.state_path or self.path.with_name("state.sqlite")

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> int:
        return parse_size(v)


class Influx(Model):
    api: Literal["v1", "v2", "none"] = "none"
    url: str = "http://127.0.0.1:8086"
    # v1 (InfluxDB 1.x /write)
    database: str = "hallgate"
    retention_policy: str | None = None
    username: str | None = None
    password_env: str | None = None
    # v2 (InfluxDB 2.x/3.x /api/v2/write)
    org: str | None = None
    bucket: str | None = None
    token_env: str | None = None

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> Influx:
        if self.api == "v2" and not (self.org and self.bucket and self.token_env):
            raise ValueError("api v2 需要 org、bucket 和 token_env（存放令牌的环境变量名）")
        return self
