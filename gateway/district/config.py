"""`district.yaml`: the district's sites (centre, towns, villages), its store and broker, and who may
read them. One file for the district's view (`hallgate district`), the district store's per-site
credentials and the district simulation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from gateway.config.api import Token
from gateway.config.base import Model
from gateway.config.errors import ConfigError
from gateway.config.hall import known_zone
from gateway.config.reports import Ranking

Level = Literal["centre", "town", "village"]
LEVELS: tuple[Level, ...] = ("centre", "town", "village")
SITE_ID = r"^[a-z0-9_-]{1,64}$"


class Site(Model):
    """A site as the district knows it: `id` is the `site` label its gateway forwards under (the
    hall file's `district.site_label`, default its `site`) and its user at the district broker."""

    id: str = Field(pattern=SITE_ID)
    name: str = Field(min_length=1, max_length=64, description="e.g. 城关镇便民服务中心")
    level: Level
    parent: str | None = Field(None, pattern=SITE_ID, description="the town a village belongs to")
    password_env: str | None = Field(
        None, description="variable holding the site's password at the district store and broker"
    )


class DistrictStore(Model):
    url: str = Field(pattern=r"^https?://", description="the district store to read, e.g. http://vm:8428")
    username: str | None = None
    password_env: str | None = None
    timeout_s: float = Field(10.0, gt=0)
    backend: str | None = Field(
        None,
        pattern=r"^https?://",
        description="the VictoriaMetrics behind vmauth (`url` is then vmauth): `hallgate district-auth` routes to it",
    )


class DistrictBrokerView(Model):
    """The district broker, read by the district's view (alerts and statuses the sites bridge up)."""

    host: str = Field(min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_env: str | None = None
    ca_file: Path | None = Field(None, description="PEM CA for TLS; without it the link is plain")


class DistrictApi(Model):
    host: str = "127.0.0.1"
    port: int = Field(8090, ge=1, le=65535)
    tokens: list[Token] = Field(default_factory=list)


class DistrictConfig(Model):
    name: str = Field(min_length=1, max_length=64, description="e.g. 某区政务服务管理办公室")
    store: DistrictStore
    broker: DistrictBrokerView | None = None
    api: DistrictApi = Field(default_factory=DistrictApi)
    ranking: Ranking = Field(default_factory=Ranking)
    offline_after_s: int = Field(300, ge=10, description="a site with no data for this long is offline")
    timezone: str = Field("Asia/Shanghai", description="the district's calendar: where a day or a month begins")
    sites: list[Site] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_zone(v)

    @model_validator(mode="after")
    def _sites(self) -> DistrictConfig:
        ids = [s.id for s in self.sites]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"站点 {', '.join(twice)} 重复：每个站点 id 只写一次")
        towns = {s.id for s in self.sites if s.level == "town"}
        for s in self.sites:
            if s.parent is not None and s.parent not in towns:
                raise ValueError(
                    f"站点 {s.id} 的 parent {s.parent} 不是已列出的镇街：填一个 town 级站点的 id，或删去 parent"
                )
        return self

    def site(self, site_id: str) -> Site | None:
        return next((s for s in self.sites if s.id == site_id), None)


def load_district(path: str | os.PathLike[str]) -> DistrictConfig:
    """Read and validate district.yaml; raise ConfigError naming the file and each field."""
    file = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, [("(file)", "文件不存在：检查路径")]) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(file, [("(file)", f"无法读取：{e}。请确认是 UTF-8 编码的 YAML")]) from None
    try:
        return DistrictConfig.model_validate(raw)
    except ValidationError as e:
        problems = [(".".join(str(p) for p in err["loc"]) or "(top level)", err["msg"]) for err in e.errors()]
        raise ConfigError(file, problems) from None
