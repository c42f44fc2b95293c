"""The district store a site forwards its series to (issue 25): where, how, and how fast to catch up."""

from __future__ import annotations

import urllib.parse
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model
from gateway.config.broker import BrokerTls
from gateway.config.district_broker import DistrictBroker


class District(Model):
    """The forwarding is off unless `url` is given: the district store keeps its own cursor in the
    site's outbox (gateway/store/cursors.py) and shares its budget with the local InfluxDB. The
    broker bridge (`broker`) is apart: broker-config writes it for the site's Mosquitto."""

    url: str | None = Field(None, description="the district store, e.g. https://tsdb.district:8428")
    api: Literal["victoriametrics", "influx_v1"] = Field(
        "victoriametrics", description="victoriametrics: POST /write; influx_v1: POST /write?db=database"
    )
    database: str = Field("hallgate", min_length=1, description="influx_v1 only")
    site_label: str | None = Field(
        None, pattern=r"^[a-z0-9_-]{1,64}$", description="the site tag's value centrally; default: the hall's site"
    )
    username: str | None = None
    password_env: str | None = None
    tls: BrokerTls | None = None
    catch_up_rate: float = Field(2000.0, gt=0, description="points per second at most, however long the backlog")
    burst: int | None = Field(None, ge=1, description="points sent at once at most; default: one second's worth")
    start_jitter_s: float = Field(30.0, ge=0, description="the first write and each retry wait a random share of it")
    batch_size: int = Field(1000, ge=1)
    # Points the forwarder vouches for (gateway/store/vouch.py): the others are counted, not sent.
    max_future_s: float = Field(
        300.0, ge=0, description="a point stamped further ahead of this site's clock stays home"
    )
    max_age_days: float = Field(
        31.0, gt=0, description="an older point stays home: the district store's retention (VictoriaMetrics: 1 month)"
    )
    clock_tolerance_s: float = Field(
        120.0, ge=1, description="this site's clock further off the district store's (its Date header): clock_off"
    )
    timeout_s: float = Field(10.0, gt=0)
    rated_visits_every_s: float = Field(
        60.0, gt=0, description="how often the rated visits are joined and forwarded (评价率 at the district)"
    )
    # The site Mosquitto's bridge to the district broker (`hallgate broker-config`; gateway/broker_bridge.py).
    broker: DistrictBroker | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urllib.parse.urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} 不是 http(s) 网址：请写如 http://tsdb.district:8428")
        if parts.username or parts.password or "p=" in parts.query:
            raise ValueError("district.url 中不要写账号密码：请用 username 和 password_env")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> District:
        if self.url is None:
            return self
        if self.tls is not None and not self.url.startswith("https://"):
            raise ValueError("设置了 district.tls，但 district.url 不是 https://：请改用 https 或删去 tls")
        if self.password_env and not self.username:
            raise ValueError("district.password_env 需要同时填写 district.username")
        return self

    @property
    def rate_burst(self) -> int:
        """The bucket's size: `burst`, or one second at the catch-up rate (at least one point)."""
        return self.burst if self.burst is not None else max(1, int(self.catch_up_rate))
